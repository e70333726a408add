-- Each service owns its database; none reads another's.
CREATE DATABASE matcher;
CREATE DATABASE contracts;
CREATE DATABASE notifier;
CREATE DATABASE portal;
