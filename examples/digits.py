"""The learning benchmark's recipe, shared by the federated trainers and the baseline so that both
do exactly the same work: scikit-learn's bundled ``load_digits`` (1797 8×8 images, no download),
a seeded test split, a non-IID split of the rest across members (per class, Dirichlet α = 0.5),
models and their local training, seeded per (seed, member, round).

Models work on parameters held as ``{name: float64 ndarray}``; ``Recipe.local`` returns the
member's new parameters after E local epochs. ``"logreg"`` (softmax regression) and ``"mlp"``
(one hidden layer) are NumPy; ``"torch"`` is the PyTorch MLP of ``pytorch_digits.py``.

Per-member attacks and privacy settings plug in as update transforms (:data:`TRANSFORMS`):
``transform(name, delta, rng, arg)`` changes a member's update before it is submitted, in the
federated run and in the baseline alike. Two attacks are not transforms of the member's own
update: ``label-flip`` poisons its data (it trains on labels 9 − y) and ``alie`` (Baruch et al.,
"A little is enough", NeurIPS 2019) replaces its update with μ − z·σ of the honest members'
updates of the round (an omniscient attacker: the recipe can compute every member's update).
A member with any attack (:data:`ATTACKS`) claims the largest weight any member has
(:meth:`Recipe.weight`), the strongest claim the roster's ``maxWeight`` lets it make.
"""
import statistics

import numpy as np

CLASSES = 10
FEATURES = 64


def _rng(*labels):
    return np.random.default_rng([int(x) for x in labels])


def split(members, seed, alpha=0.5, test_fraction=0.2, min_samples=20):
    """``(parts, test)``: ``members`` training sets ``(X, y)`` split by label with per-class
    Dirichlet(α) proportions (redrawn until every member has ``min_samples``), and the test set.
    Features are scaled to [0, 1]. Deterministic in ``seed``."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float64) / 16.0
    rng = _rng(seed, 0xD161)
    order = rng.permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    for _ in range(1000):
        parts = [[] for _ in range(members)]
        for c in range(CLASSES):
            idx = train[y[train] == c]
            p = rng.dirichlet([alpha] * members)
            cuts = (np.cumsum(p)[:-1] * len(idx)).astype(int)
            for i, chunk in enumerate(np.split(idx, cuts)):
                parts[i].extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_samples:
            break
    else:
        raise ValueError(f"cannot split {len(train)} samples over {members} members")
    return [(X[np.array(p)], y[np.array(p)]) for p in parts], (X[test], y[test])


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class NumpyModel:
    """Softmax regression (``hidden=0``) or a one-hidden-layer ReLU MLP, trained by minibatch SGD
    on cross-entropy in float64."""

    def __init__(self, hidden=0, lr=0.5, batch=32):
        self.hidden, self.lr, self.batch = hidden, lr, batch

    def init(self, seed):
        if self.hidden == 0:
            return {"W": np.zeros((FEATURES, CLASSES)), "b": np.zeros(CLASSES)}
        rng = _rng(seed, 0x1417)
        h = self.hidden
        return {
            "W1": rng.normal(0, np.sqrt(2 / FEATURES), (FEATURES, h)),
            "b1": np.zeros(h),
            "W2": rng.normal(0, np.sqrt(1 / h), (h, CLASSES)),
            "b2": np.zeros(CLASSES),
        }

    def logits(self, p, X):
        if self.hidden == 0:
            return X @ p["W"] + p["b"]
        return np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]

    def fit(self, params, X, y, epochs, rng):
        p = {k: v.copy() for k, v in params.items()}
        onehot = np.eye(CLASSES)[y]
        for _ in range(epochs):
            order = rng.permutation(len(y))
            for s in range(0, len(y), self.batch):
                i = order[s : s + self.batch]
                xb, tb = X[i], onehot[i]
                if self.hidden == 0:
                    g = (_softmax(xb @ p["W"] + p["b"]) - tb) / len(i)
                    p["W"] -= self.lr * xb.T @ g
                    p["b"] -= self.lr * g.sum(axis=0)
                    continue
                a = xb @ p["W1"] + p["b1"]
                h = np.maximum(a, 0)
                g2 = (_softmax(h @ p["W2"] + p["b2"]) - tb) / len(i)
                g1 = (g2 @ p["W2"].T) * (a > 0)
                p["W2"] -= self.lr * h.T @ g2
                p["b2"] -= self.lr * g2.sum(axis=0)
                p["W1"] -= self.lr * xb.T @ g1
                p["b1"] -= self.lr * g1.sum(axis=0)
        return p

    def accuracy(self, params, X, y):
        return float(np.mean(np.argmax(self.logits(params, X), axis=1) == y))


class Recipe:
    """Everything both runs share: the data split, the model, E local epochs, the transforms of
    each member's update and its clip (the roster's ``clip``: each coordinate of a member's
    delta is clipped to it before it is sent, in both runs)."""

    def __init__(self, members, seed, model="logreg", epochs=1, clip=1.0, transforms=None):
        self.members, self.seed, self.epochs, self.clip = members, seed, epochs, clip
        self.parts, (self.X_test, self.y_test) = split(members, seed)
        if model == "logreg":
            self.model = NumpyModel(hidden=0)
        elif model == "mlp":
            self.model = NumpyModel(hidden=32, lr=0.2)
        elif model == "torch":
            from pytorch_digits import TorchRecipeModel

            self.model = TorchRecipeModel()
        else:
            raise ValueError(f"unknown model {model!r} (logreg, mlp, torch)")
        self.name = model
        self.transforms = transforms or {}  # member -> ["name[:arg]", ...]

    def init(self):
        """The initial global parameters (the same at every member)."""
        return self.model.init(self.seed)

    def num_samples(self, member):
        return len(self.parts[member][1])

    def attackers(self):
        """The members with an attack among their transforms, ascending."""
        return sorted(m for m, specs in self.transforms.items()
                      if any(s.partition(":")[0] in ATTACKS for s in specs))

    def weight(self, member):
        """The weight ``member`` submits: its sample count, or for an attacker the largest
        sample count of any member (the roster's ``maxWeight``)."""
        if member in self.attackers():
            return max(self.num_samples(m) for m in range(self.members))
        return self.num_samples(member)

    def update(self, params, member, round_):
        """Member ``member``'s update for ``round_`` from the global ``params``: E local epochs
        (seeded by seed, member, round; on labels 9 − y with ``label-flip``), the change passed
        through the member's transforms (``alie`` replaces it, see :func:`alie`), then clipped
        to ±clip."""
        specs = self.transforms.get(member, [])
        names = [spec.partition(":")[0] for spec in specs]
        X, y = self.parts[member]
        if "label-flip" in names:
            y = CLASSES - 1 - y
        new = self.model.fit(params, X, y, self.epochs, _rng(self.seed, member, round_, 0x7A1))
        delta = {k: new[k] - params[k] for k in params}
        for spec in specs:
            name, _, arg = spec.partition(":")
            if name == "alie":
                delta = self.alie(params, round_, arg)
            else:
                delta = transform(name, delta, _rng(self.seed, member, round_, 0xA77), arg)
        # Last, as the node clips every coordinate to the roster's clip.
        return {k: np.clip(v, -self.clip, self.clip) for k, v in delta.items()}

    def alie(self, params, round_, arg):
        """ALIE's update for ``round_`` (Baruch et al. 2019, Algorithm 1): μ − z·σ, μ and σ the
        coordinate-wise mean and population standard deviation of every honest member's
        (clipped) update, z = arg or Φ⁻¹((n − s)/n) with s = ⌊n/2 + 1⌋ − f for n members of
        whom f attack."""
        honest = [m for m in range(self.members) if m not in self.attackers()]
        updates = [self.update(params, m, round_) for m in honest]
        n, f = self.members, self.members - len(honest)
        z = float(arg) if arg else statistics.NormalDist().inv_cdf((n - (n // 2 + 1 - f)) / n)
        return {k: np.mean([u[k] for u in updates], axis=0) - z * np.std([u[k] for u in updates], axis=0)
                for k in params}

    def accuracy(self, params):
        return self.model.accuracy(params, self.X_test, self.y_test)


def _sign_flip(delta, rng, arg):
    """An attack: the member sends −k times its honest update (k = arg, default 1)."""
    k = float(arg or 1)
    return {n: -k * v for n, v in delta.items()}


def _scale(delta, rng, arg):
    """An attack: the member sends k times its honest update (k = arg, default 1000; the clip
    then cuts every coordinate to ±clip)."""
    k = float(arg or 1000)
    return {n: k * v for n, v in delta.items()}


def _label_flip(delta, rng, arg):
    """An attack on the data (``Recipe.update`` trains on labels 9 − y): the update is sent as
    trained."""
    return delta


def _gaussian(delta, rng, arg):
    """A privacy setting: Gaussian noise of standard deviation σ = arg on every coordinate."""
    sigma = float(arg)
    return {n: v + rng.normal(0, sigma, v.shape) for n, v in delta.items()}


#: Update transforms by name: per-member attacks and privacy settings (``name[:arg]``).
TRANSFORMS = {"sign-flip": _sign_flip, "scale": _scale, "label-flip": _label_flip,
              "gaussian": _gaussian}

#: The transforms that are attacks (their member claims the largest weight); ``alie`` is handled
#: by :meth:`Recipe.update` itself.
ATTACKS = {"sign-flip", "scale", "label-flip", "alie"}


def transform(name, delta, rng, arg):
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {name!r} (known: {', '.join(TRANSFORMS)})")
    return TRANSFORMS[name](delta, rng, arg)


def clip_l2(delta, clip):
    """``delta`` (tensors by name) scaled to L2 norm at most ``clip`` over all its values, as a
    DP roster's node clips a member's whole flattened update."""
    norm = float(np.sqrt(sum(float(np.sum(np.square(v, dtype=np.float64))) for v in delta.values())))
    factor = min(1.0, clip / norm) if norm > 0 else 1.0
    return {k: v * factor for k, v in delta.items()}


def fedavg(deltas, weights):
    """Plain FedAvg in float64: the weighted mean of the members' deltas."""
    total = float(sum(weights))
    return {k: sum(w * d[k] for d, w in zip(deltas, weights)) / total for k in deltas[0]}
