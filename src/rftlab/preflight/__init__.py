"""`rftlab preflight`: does the reward spread the base model's rollouts before any job is paid for?"""
