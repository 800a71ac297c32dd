"""Personal data and secrets: one owner of detection (detect), text scrubbing (scrub), bundle audits
(audit) and run-artifact redaction (redact). See docs/privacy.md."""
