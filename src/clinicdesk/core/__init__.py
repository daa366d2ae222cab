"""Mechanisms that know no domain: database, errors, HTTP plumbing, keys, templating."""
