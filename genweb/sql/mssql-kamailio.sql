-- genproxy: the Kamailio tables on Microsoft SQL Server (13.0, 13.1.4).
--
-- An administrator runs this once in the database named by kamDatabase (default kamailio), before
-- the database configuration is committed, for example:
--     sqlcmd -S tcp:sql.example.com,1433 -d kamailio -i mssql-kamailio.sql
-- then gives dbrwUser (default amtelco) read/write access, for example:
--     GRANT SELECT, INSERT, UPDATE, DELETE ON SCHEMA::dbo TO [amtelco];
--
-- Translated from Kamailio 5.6's MySQL schema (standard, auth_db, usrloc, permissions, uac,
-- dispatcher and htable: the tables genproxy uses), keeping every column, default, key, index and the
-- table versions Kamailio checks at start-up:
--   INT UNSIGNED AUTO_INCREMENT  -> INT IDENTITY(1,1) (no unsigned types; 2^31 ids is plenty)
--   SMALLINT UNSIGNED (a port)   -> INT (SMALLINT stops at 32767)
--   FLOAT(10,2)                  -> REAL
--   INT(11), DATETIME, VARCHAR   -> INT, DATETIME, VARCHAR of the same length
-- Names are bracketed so that none can collide with a T-SQL keyword.

SET NOCOUNT ON;
GO

-- standard-create.sql
CREATE TABLE [version] (
    [id] INT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    [table_name] VARCHAR(32) NOT NULL,
    [table_version] INT NOT NULL DEFAULT 0,
    CONSTRAINT [table_name_idx] UNIQUE ([table_name])
);

INSERT INTO [version] ([table_name], [table_version]) VALUES ('version', 1);
GO

-- auth_db-create.sql
CREATE TABLE [subscriber] (
    [id] INT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    [username] VARCHAR(64) NOT NULL DEFAULT '',
    [domain] VARCHAR(64) NOT NULL DEFAULT '',
    [password] VARCHAR(64) NOT NULL DEFAULT '',
    [ha1] VARCHAR(128) NOT NULL DEFAULT '',
    [ha1b] VARCHAR(128) NOT NULL DEFAULT '',
    CONSTRAINT [account_idx] UNIQUE ([username], [domain])
);

CREATE INDEX [username_idx] ON [subscriber] ([username]);

INSERT INTO [version] ([table_name], [table_version]) VALUES ('subscriber', 7);
GO

-- usrloc-create.sql
CREATE TABLE [location] (
    [id] INT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    [ruid] VARCHAR(64) NOT NULL DEFAULT '',
    [username] VARCHAR(64) NOT NULL DEFAULT '',
    [domain] VARCHAR(64) NULL DEFAULT NULL,
    [contact] VARCHAR(512) NOT NULL DEFAULT '',
    [received] VARCHAR(128) NULL DEFAULT NULL,
    [path] VARCHAR(512) NULL DEFAULT NULL,
    [expires] DATETIME NOT NULL DEFAULT '2030-05-28 21:32:15',
    [q] REAL NOT NULL DEFAULT 1.0,
    [callid] VARCHAR(255) NOT NULL DEFAULT 'Default-Call-ID',
    [cseq] INT NOT NULL DEFAULT 1,
    [last_modified] DATETIME NOT NULL DEFAULT '2000-01-01 00:00:01',
    [flags] INT NOT NULL DEFAULT 0,
    [cflags] INT NOT NULL DEFAULT 0,
    [user_agent] VARCHAR(255) NOT NULL DEFAULT '',
    [socket] VARCHAR(64) NULL DEFAULT NULL,
    [methods] INT NULL DEFAULT NULL,
    [instance] VARCHAR(255) NULL DEFAULT NULL,
    [reg_id] INT NOT NULL DEFAULT 0,
    [server_id] INT NOT NULL DEFAULT 0,
    [connection_id] INT NOT NULL DEFAULT 0,
    [keepalive] INT NOT NULL DEFAULT 0,
    [partition] INT NOT NULL DEFAULT 0,
    CONSTRAINT [ruid_idx] UNIQUE ([ruid])
);

CREATE INDEX [account_contact_idx] ON [location] ([username], [domain], [contact]);
CREATE INDEX [expires_idx] ON [location] ([expires]);
CREATE INDEX [tcpcon_idx] ON [location] ([connection_id]);
CREATE INDEX [connection_idx] ON [location] ([server_id], [connection_id]);

INSERT INTO [version] ([table_name], [table_version]) VALUES ('location', 9);
GO

-- permissions-create.sql
CREATE TABLE [address] (
    [id] INT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    [grp] INT NOT NULL DEFAULT 1,
    [ip_addr] VARCHAR(50) NOT NULL,
    [mask] INT NOT NULL DEFAULT 32,
    [port] INT NOT NULL DEFAULT 0,
    [tag] VARCHAR(64) NULL
);

INSERT INTO [version] ([table_name], [table_version]) VALUES ('address', 6);
GO

-- uac-create.sql
CREATE TABLE [uacreg] (
    [id] INT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    [l_uuid] VARCHAR(64) NOT NULL DEFAULT '',
    [l_username] VARCHAR(64) NOT NULL DEFAULT '',
    [l_domain] VARCHAR(64) NOT NULL DEFAULT '',
    [r_username] VARCHAR(64) NOT NULL DEFAULT '',
    [r_domain] VARCHAR(64) NOT NULL DEFAULT '',
    [realm] VARCHAR(64) NOT NULL DEFAULT '',
    [auth_username] VARCHAR(64) NOT NULL DEFAULT '',
    [auth_password] VARCHAR(64) NOT NULL DEFAULT '',
    [auth_ha1] VARCHAR(128) NOT NULL DEFAULT '',
    [auth_proxy] VARCHAR(255) NOT NULL DEFAULT '',
    [expires] INT NOT NULL DEFAULT 0,
    [flags] INT NOT NULL DEFAULT 0,
    [reg_delay] INT NOT NULL DEFAULT 0,
    [contact_addr] VARCHAR(255) NOT NULL DEFAULT '',
    [socket] VARCHAR(128) NOT NULL DEFAULT '',
    CONSTRAINT [l_uuid_idx] UNIQUE ([l_uuid])
);

INSERT INTO [version] ([table_name], [table_version]) VALUES ('uacreg', 5);
GO

-- dispatcher-create.sql
CREATE TABLE [dispatcher] (
    [id] INT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    [setid] INT NOT NULL DEFAULT 0,
    [destination] VARCHAR(192) NOT NULL DEFAULT '',
    [flags] INT NOT NULL DEFAULT 0,
    [priority] INT NOT NULL DEFAULT 0,
    [attrs] VARCHAR(128) NOT NULL DEFAULT '',
    [description] VARCHAR(64) NOT NULL DEFAULT ''
);

INSERT INTO [version] ([table_name], [table_version]) VALUES ('dispatcher', 4);
GO

-- htable-create.sql
CREATE TABLE [htable] (
    [id] INT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    [key_name] VARCHAR(64) NOT NULL DEFAULT '',
    [key_type] INT NOT NULL DEFAULT 0,
    [value_type] INT NOT NULL DEFAULT 0,
    [key_value] VARCHAR(128) NOT NULL DEFAULT '',
    [expires] INT NOT NULL DEFAULT 0
);

INSERT INTO [version] ([table_name], [table_version]) VALUES ('htable', 2);
GO
