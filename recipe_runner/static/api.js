// The JSON API of the server: one function per endpoint, nothing else.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export class Api {
  constructor(session) {
    this.session = session || null;
  }

  url(path, params = {}) {
    const query = new URLSearchParams();
    if (this.session) query.set("session", this.session);
    for (const [key, value] of Object.entries(params)) if (value) query.set(key, value);
    const text = query.toString();
    return text ? `${path}?${text}` : path;
  }

  async request(url, options) {
    const response = await fetch(url, { credentials: "same-origin", ...options });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const detail = body && body.detail ? body.detail : response.statusText;
      throw new ApiError(response.status, typeof detail === "string" ? detail : JSON.stringify(detail));
    }
    return body;
  }

  project() {
    return this.request("api/project");
  }

  // fresh: the page was just loaded, so this session's unanswered tasks come first again.
  questions(fresh = false) {
    return this.request(this.url("api/questions", { fresh: fresh ? "1" : "" }));
  }

  answers(answers) {
    return this.request("api/answers", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session: this.session, answers }),
    });
  }

  // A recipe's event hook, called with the payload as its keyword arguments: its dict.
  event(name, payload) {
    return this.request(this.url(`api/events/${encodeURIComponent(name)}`), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(payload),
    });
  }

  stats() {
    return this.request(this.url("api/stats"));
  }

  // For a page being closed: a keepalive request outlives the page (sendBeacon can't send
  // JSON, and the server takes JSON only). The browser caps such bodies at 64 KiB: false
  // when it is bigger, so that the answers stay with the page.
  leave(answers) {
    const body = JSON.stringify({ session: this.session, answers });
    if (new Blob([body]).size > 60000) return false;
    fetch("api/answers", {
      method: "POST",
      keepalive: true,
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body,
    }).catch(() => {});
    return true;
  }
}
