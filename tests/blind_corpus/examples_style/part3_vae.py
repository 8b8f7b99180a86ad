# Part 3 - VAE, after pytorch/examples vae/main.py
import torch
import torch.nn as nn
import torch.nn.functional as F

latent_dim = 32
n_classes = 10


def reparameterize(mu, logvar):
    std = torch.exp(0.5 * logvar)
    eps = torch.randn_like(std)
    return mu + eps * std


class VAE(nn.Module):
    def __init__(self, latent_dim=latent_dim, cond_dim=0):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784 + cond_dim, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc31 = nn.Linear(64, latent_dim)
        self.fc32 = nn.Linear(64, latent_dim)
        self.fc4 = nn.Linear(latent_dim + cond_dim, 64)
        self.fc5 = nn.Linear(64, 128)
        self.fc6 = nn.Linear(128, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x.view(x.size(0), -1)))
        h2 = F.relu(self.fc2(h1))
        return self.fc31(h2), self.fc32(h2)

    def decode(self, z):
        h4 = F.relu(self.fc4(z))
        h5 = F.relu(self.fc5(h4))
        return self.fc6(h5)

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def kl_divergence(mu, logvar):
    # see Appendix B from VAE paper: Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


def vae_loss(x_hat, x, mu, logvar):
    MSE = F.mse_loss(x_hat, x.view(-1, 784), reduction='sum')
    KLD = kl_divergence(mu, logvar).sum()
    return MSE + KLD


def vae_step(model, optimizer, x):
    optimizer.zero_grad()
    recon_batch, mu, logvar = model(x)
    loss = vae_loss(recon_batch, x, mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.item()


class CVAE(VAE):
    def __init__(self, latent_dim=latent_dim):
        super(CVAE, self).__init__(latent_dim, cond_dim=n_classes)

    def forward(self, x, y):
        y = y.view(y.size(0), -1)
        mu, logvar = self.encode(torch.cat([x.view(-1, 784), y], 1))
        z = reparameterize(mu, logvar)
        return self.decode(torch.cat([z, y], 1)), mu, logvar
