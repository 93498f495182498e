"""Rakuten R-Messe (RMS InquiryManagementAPI): client, model, errors, poll, rules, adapter."""
