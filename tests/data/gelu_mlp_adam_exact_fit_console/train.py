# adam_near_convergence: GELU MLP regressor interpolating 128 noiseless points of a smooth ridge function (full batch),
# Adam(lr=1e-3, eps default 1e-8), 6000 steps; Python logging to a console log file every 10 steps
import logging, os, numpy as np, torch, torch.nn as nn
torch.set_num_threads(1); torch.manual_seed(0)
os.makedirs("logs", exist_ok=True)
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                    handlers=[logging.FileHandler("logs/train.log", mode="w"), logging.StreamHandler()])
log = logging.getLogger("ridge_mlp")
X = torch.randn(128, 8); Y = torch.sin(X @ torch.randn(8, 1) * 1.5)      # exactly fittable by the net, no noise
model = nn.Sequential(nn.Linear(8, 128), nn.GELU(), nn.Linear(128, 128), nn.GELU(), nn.Linear(128, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
truth = {k: [] for k in ["loss", "grad_norm", "lr"]}
log.info("start training: GELU MLP 8-128-128-1, Adam lr=1e-3, 6000 steps, full batch of 128")
for step in range(1, 6001):
    b = torch.randperm(128)   # full batch
    loss = nn.functional.mse_loss(model(X[b]), Y[b])
    opt.zero_grad(); loss.backward()
    gn = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")).item(); opt.step()
    truth["loss"].append(loss.item()); truth["grad_norm"].append(gn); truth["lr"].append(1e-3)
    if step % 10 == 0:
        log.info(f"step {step:5d} | loss {loss.item():.3e} | grad_norm {gn:.3e}")
log.info("done")
np.savez("truth.npz", **{k: np.array(v) for k, v in truth.items()})
