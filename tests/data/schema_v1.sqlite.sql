-- recipe-runner schema version 1 as first released (sqlite): the starting point of the migration tests

CREATE TABLE datasets (
	id INTEGER NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	created FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE TABLE rr_schema (
	version INTEGER NOT NULL
);

CREATE TABLE answers (
	id INTEGER NOT NULL, 
	dataset_id INTEGER NOT NULL, 
	session_id VARCHAR(200) NOT NULL, 
	input_hash BIGINT NOT NULL, 
	task_hash BIGINT NOT NULL, 
	answer VARCHAR(16) NOT NULL, 
	created FLOAT NOT NULL, 
	content TEXT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_answer UNIQUE (dataset_id, session_id, task_hash), 
	FOREIGN KEY(dataset_id) REFERENCES datasets (id) ON DELETE CASCADE
);

CREATE INDEX ix_answers_input ON answers (dataset_id, input_hash);

CREATE INDEX ix_answers_task ON answers (dataset_id, task_hash);

CREATE TABLE claims (
	id INTEGER NOT NULL, 
	dataset_id INTEGER NOT NULL, 
	scope VARCHAR(200) NOT NULL, 
	task_hash BIGINT NOT NULL, 
	session_id VARCHAR(200) NOT NULL, 
	claimed_at FLOAT NOT NULL, 
	content TEXT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_claim UNIQUE (dataset_id, scope, task_hash), 
	FOREIGN KEY(dataset_id) REFERENCES datasets (id) ON DELETE CASCADE
);

INSERT INTO rr_schema (version) VALUES (1);
