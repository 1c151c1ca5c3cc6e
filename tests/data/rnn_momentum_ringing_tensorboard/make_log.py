# Vanilla (tanh) RNN on a long-memory task: predict the sum of the two marked values in a
# 80-step sequence (the "adding problem"). SGD with momentum, no gradient clipping.
# Loss and gradient norm logged per step to TensorBoard.
import torch
import torch.nn as nn
from torch.utils.tensorboard import SummaryWriter

torch.manual_seed(0)
torch.set_num_threads(1)
T, N, B = 80, 6400, 64
vals = torch.rand(N, T)
mark = torch.zeros(N, T)
a = torch.randint(0, T // 2, (N,))
b = torch.randint(T // 2, T, (N,))
mark[torch.arange(N), a] = 1
mark[torch.arange(N), b] = 1
X = torch.stack([vals, mark], -1)
Y = (vals * mark).sum(1, keepdim=True)


class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.rnn = nn.RNN(2, 64, batch_first=True, nonlinearity="tanh")
        s.out = nn.Linear(64, 1)
        nn.init.orthogonal_(s.rnn.weight_hh_l0)
        s.rnn.weight_hh_l0.data *= 1.4

    def forward(s, x):
        return s.out(s.rnn(x)[0][:, -1])


model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
dl = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(X, Y), batch_size=B, shuffle=True, generator=torch.Generator().manual_seed(1)
)
w = SummaryWriter("tb")
step = 0
for _epoch in range(8):
    for xb, yb in dl:
        loss = nn.functional.mse_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        gn = torch.sqrt(sum((p.grad**2).sum() for p in model.parameters()))
        opt.step()
        w.add_scalar("train/loss", loss.item(), step)
        w.add_scalar("train/grad_norm", gn.item(), step)
        step += 1
w.close()
print("steps", step)
