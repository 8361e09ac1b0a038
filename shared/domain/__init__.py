"""Business rules, pure Python: no boto3, httpx or Powertools here."""
