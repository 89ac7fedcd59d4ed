"""The inventory service: vCenter inventory, templates and VM lifecycle (pyvmomi)."""
