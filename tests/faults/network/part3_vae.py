"""Fault: network access: a download at import (caught by the student's own try), a connection to
127.0.0.1:9 in kl_divergence (fails, "network refused": the namespace has no network, only its own
loopback) and a listening socket in reparameterize (allowed: it listens on the submission's own
empty loopback, where no one else is; the check passes)."""
import socket
import urllib.request

import torch

from reference.part3_vae import *  # noqa: F401,F403

try:
    urllib.request.urlopen("http://example.com", timeout=2).read()
except Exception:  # noqa: BLE001
    pass


def kl_divergence(mu, logvar):
    with socket.create_connection(("127.0.0.1", 9), timeout=2) as connection:
        connection.sendall(b"mu and logvar")
    return -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1)


def reparameterize(mu, logvar):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
