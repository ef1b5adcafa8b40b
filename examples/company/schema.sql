-- The sample company's database: one file that PostgreSQL, MariaDB/MySQL and SQLite all
-- accept. Keys are given by the data generator (no serial types, which differ per database).
-- Every reference is a declared foreign key and indexed, as `custodian dataset check` wants.
CREATE TABLE customers (
    id          BIGINT PRIMARY KEY,
    email       VARCHAR(255) NOT NULL,
    full_name   VARCHAR(200),
    phone       VARCHAR(40),
    country     VARCHAR(2),
    created_on  DATE,
    -- Set while a restriction of processing is in force (GDPR Art. 18, the dataset's `restriction_column`).
    processing_restricted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX customers_email ON customers (email);
CREATE INDEX customers_phone ON customers (phone);

CREATE TABLE accounts (
    id          BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    username    VARCHAR(100),
    status      VARCHAR(20) NOT NULL,
    closed_on   DATE,
    processing_restricted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX accounts_customer ON accounts (customer_id);

CREATE TABLE orders (
    id               BIGINT PRIMARY KEY,
    account_id       BIGINT NOT NULL REFERENCES accounts (id),
    placed_on        DATE,
    shipping_name    VARCHAR(200),
    shipping_address VARCHAR(300),
    total            NUMERIC(10, 2)
);
CREATE INDEX orders_account ON orders (account_id);

CREATE TABLE invoices (
    id              BIGINT PRIMARY KEY,
    order_id        BIGINT NOT NULL REFERENCES orders (id),
    billing_name    VARCHAR(200),
    billing_address VARCHAR(300),
    amount          NUMERIC(10, 2),
    issued_on       DATE
);
CREATE INDEX invoices_order ON invoices (order_id);

CREATE TABLE product_registrations (
    id            BIGINT PRIMARY KEY,
    customer_id   BIGINT NOT NULL REFERENCES customers (id),
    product       VARCHAR(100),
    serial_number VARCHAR(64),
    registered_on DATE
);
CREATE INDEX registrations_customer ON product_registrations (customer_id);

CREATE TABLE support_tickets (
    id          BIGINT PRIMARY KEY,
    customer_id BIGINT REFERENCES customers (id),
    email       VARCHAR(255),
    subject     VARCHAR(200),
    body        TEXT,
    opened_on   DATE
);
CREATE INDEX tickets_customer ON support_tickets (customer_id);
CREATE INDEX tickets_email ON support_tickets (email);

CREATE TABLE newsletter_subscriptions (
    id            BIGINT PRIMARY KEY,
    email         VARCHAR(255) NOT NULL,
    list_name     VARCHAR(50),
    subscribed_on DATE
);
CREATE INDEX newsletter_email ON newsletter_subscriptions (email);

CREATE TABLE survey_answers (
    id          BIGINT PRIMARY KEY,
    customer_id BIGINT REFERENCES customers (id),
    email       VARCHAR(255),
    question    VARCHAR(200),
    answer      TEXT,
    -- When the answer was given: the policy's `surveys` rule counts from it (`collected_at`).
    answered_on DATE
);
CREATE INDEX surveys_customer ON survey_answers (customer_id);
CREATE INDEX surveys_email ON survey_answers (email);
CREATE INDEX surveys_answered ON survey_answers (answered_on);

CREATE TABLE job_applications (
    id         BIGINT PRIMARY KEY,
    email      VARCHAR(255) NOT NULL,
    full_name  VARCHAR(200),
    cv_text    TEXT,
    applied_on DATE
);
CREATE INDEX applications_email ON job_applications (email);
CREATE INDEX applications_applied ON job_applications (applied_on);
