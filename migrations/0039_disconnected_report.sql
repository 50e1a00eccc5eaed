-- The monthly report of permanently disconnected numbers (for the FCC's Reassigned Numbers
-- Database) reads the PERMANENT_RELEASE entries of a month.
CREATE INDEX audit_log_permanent_releases ON audit_log (at)
    WHERE action = 'PERMANENT_RELEASE';
