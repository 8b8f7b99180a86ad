"""Style: an mlp() builder, slicing for mu / logvar, sigma computed first, per-example mean loss."""
import torch
import torch.nn as nn

latent_dim = 32
n_classes = 10


def mlp(*sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    def __init__(self, latent_dim=latent_dim, cond_dim=0):
        super().__init__()
        self.d = latent_dim
        self.encoder = mlp(784 + cond_dim, 128, 64, 2 * latent_dim)
        self.decoder = mlp(latent_dim + cond_dim, 64, 128, 784)

    def encode(self, x):
        h = self.encoder(x.flatten(1))
        return h[..., : self.d], h[..., self.d :]

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)), mu, logvar


class CVAE(VAE):
    def __init__(self, latent_dim=latent_dim):
        super().__init__(latent_dim, cond_dim=n_classes)

    def forward(self, x, y):
        y = y.flatten(1)
        mu, logvar = self.encode(torch.cat([x.flatten(1), y], 1))
        return self.decode(torch.cat([reparameterize(mu, logvar), y], 1)), mu, logvar


def reparameterize(mu, logvar):
    eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype)
    return mu + eps * torch.exp(0.5 * logvar)


def kl_divergence(mu, logvar):
    sigma = torch.exp(0.5 * logvar)
    return 0.5 * torch.sum(mu ** 2 + sigma ** 2 - torch.log(sigma ** 2) - 1, dim=1)


def vae_loss(x_hat, x, mu, logvar):
    """Per-example mean of the negative ELBO."""
    sse = ((x_hat - x.reshape(len(x), -1)) ** 2).sum(dim=1)
    return (sse + kl_divergence(mu, logvar)).mean()


def vae_step(model, optimizer, x):
    optimizer.zero_grad()
    x_hat, mu, logvar = model(x)
    loss = vae_loss(x_hat, x, mu, logvar)
    loss.backward()
    optimizer.step()
    return float(loss)
