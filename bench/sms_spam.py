"""The SMS Spam Collection v.1 (Almeida, Gómez Hidalgo, Yamakami, DocEng 2011) in data/, as the
benchmarks read it: each unique message once, with whether it is spam (its first label wins)."""

from __future__ import annotations

from pathlib import Path

SMS = Path(__file__).resolve().parent.parent / "data" / "textcat" / "sms_spam" / "SMSSpamCollection"


def load_sms() -> list[tuple[str, bool]]:
    seen: dict[str, bool] = {}
    for line in SMS.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            label, text = line.split("\t", 1)
            seen.setdefault(text, label == "spam")
    return list(seen.items())
