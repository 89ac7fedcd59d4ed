"""The loadbalancer service: F5 BIG-IP and HAProxy pool membership."""
