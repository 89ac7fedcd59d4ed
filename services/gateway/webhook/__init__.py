"""The Alertmanager webhook: payload model, group lookup, episode de-duplication, publishing."""
