"""The activity service: the audit trail. Stores every service's audit events in an
append-only, hash-chained table and answers queries, verification and exports."""
