"""The scaler service: scaling groups, decisions, IP pools and scale-out / scale-in sagas."""
