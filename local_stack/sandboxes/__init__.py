"""Channel sandboxes: small local servers and clients that behave like the channels' real APIs
as their specs describe, and refuse what those APIs refuse. Test equipment, kept faithful."""
