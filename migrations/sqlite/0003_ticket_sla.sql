-- The SLA policy a rule chose for the ticket ([sla.<name>] in the config).
ALTER TABLE tickets ADD COLUMN sla_policy TEXT;
