"""Compatibility name: the scrubber lives in rftlab.privacy (one owner of detection)."""

from rftlab.privacy.scrub import EMAIL, KINDS, PHONE, PLACEHOLDERS, SECRET, scrub

__all__ = ["EMAIL", "KINDS", "PHONE", "PLACEHOLDERS", "SECRET", "scrub"]
