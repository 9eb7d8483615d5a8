"""Real channels: the support mailbox (IMAP in, SMTP out through an outbox) and Shopify order webhooks."""
