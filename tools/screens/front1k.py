"""The frontier screens' models: nets tried toward a place, kept off the registry.

Each screen trained as a plugin and was recorded as a ledger experiment (results/experiments/),
so the path to a frontier model is visible:

    PYTHONPATH=tools/screens ZOO_PLUGINS=front1k zoo train sep-a --seed 0
    PYTHONPATH=tools/screens ZOO_PLUGINS=front1k zoo record --experiment runs/sep-a/...

Every screen uses the frontier models' recipe (`zoo.models._dilated.RECIPE`) or says what it
changes, and declares only its parameter budget: a screen answers "how accurate at this size", the
registered model then keeps the rest of the constraints. sep-a and sep-c trained at 18d84e5, when their Dropout was
`nn.Dropout`; it is `PackedDropout` now (the same mask distribution from other random draws).
sep-d, the best of the three on validation, is registered as sepnet-1k; dilated-20k-a as
dilated-20k; dilated-6k-wd's recipe is dilated-6k's.
"""

from __future__ import annotations

from torch import nn

from zoo.contract import Gate, MaxParams, register_model
from zoo.models._dilated import RECIPE, SOURCE, dilated_net
from zoo.models.blocks import GlobalAvgPool, PackedDropout, conv_bn_relu
from zoo.models.dilated_6k import dilated_6k
from zoo.models.dilated_100k import RECIPE_100K, dilated_100k
from zoo.models.sepnet_1k import separable, separable_net, sepnet_1k
from zoo.models.tiny import ONE_CYCLE_RECIPE, tiny_8k_aug


class SqueezeExcite(nn.Module):
    """Squeeze-excitation (Hu et al. 2018) in 1x1 convs: the channels' means, through a bottleneck,
    gate the channels; input-dependent weighting for a few parameters."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            GlobalAvgPool(keepdim=True), nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1)
        )

    def forward(self, x):
        return x * self.gate(x).sigmoid()


def tiny_8k_aug_se(classes: int = 10) -> nn.Sequential:
    """tiny-8k-aug's layers with a squeeze-excitation (16 -> 4 -> 16) after the dilated conv:
    148 parameters, 7,918 in all."""
    layers = list(tiny_8k_aug(classes))
    return nn.Sequential(*layers[:6], SqueezeExcite(16, 4), *layers[6:])


def tiny_8k_aug_late_pool(classes: int = 10) -> nn.Sequential:
    """tiny-8k-aug's layers with its pool two layers later (a stem without early pooling): the
    squeeze and the next conv see 24x24 and 22x22, not 12x12 and 10x10; the same 7,770 parameters,
    about twice the multiply-adds."""
    stem, wide, pool, squeeze, first, *rest = tiny_8k_aug(classes)
    return nn.Sequential(stem, wide, squeeze, first, pool, *rest)


class ChannelShuffle(nn.Module):
    """Interleave the channels of `groups` groups (ShuffleNet, Zhang et al. 2018), so the next grouped
    conv's groups each see every group of this one's; a permutation, no parameters."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def grouped_conv(cin: int, cout: int, groups: int, dilation: int = 1, dropout: float = 0.0) -> nn.Sequential:
    """A 3x3 conv in `groups` groups, BatchNorm, ReLU, a channel shuffle and optional Dropout."""
    layers = [
        nn.Conv2d(cin, cout, 3, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        ChannelShuffle(groups),
    ]
    return nn.Sequential(*layers, *([PackedDropout(dropout)] if dropout else []))


def tiny_8k_aug_grouped(classes: int = 10) -> nn.Sequential:
    """tiny-8k-aug's stem and pool, with its three 3x3 convs after the squeeze in two shuffled groups:
    half the weights a channel, spent on width (squeeze 18, the three convs 22 wide, against 12 and
    16); 7,776 parameters."""
    return nn.Sequential(
        conv_bn_relu(1, 6, dropout=0.05),  # 26
        conv_bn_relu(6, 16, dropout=0.05),  # 24
        nn.MaxPool2d(2),  # 12
        conv_bn_relu(16, 18, kernel=1),  # 12, the squeeze
        grouped_conv(18, 22, 2, dropout=0.05),  # 10
        grouped_conv(22, 22, 2, dilation=2, dropout=0.05),  # 6
        grouped_conv(22, 22, 2),  # 4
        GlobalAvgPool(keepdim=True),
        nn.Conv2d(22, classes, 1, bias=False),
        nn.Flatten(),
    )


def tiny_8k_aug_se_late_pool(classes: int = 10) -> nn.Sequential:
    """The two nearest misses together: the squeeze-excitation after the dilated conv and the pool two
    layers later (7,918 parameters)."""
    stem, wide, pool, squeeze, first, *rest = tiny_8k_aug_se(classes)
    return nn.Sequential(stem, wide, squeeze, first, pool, *rest)


def late_pool(classes: int = 10) -> nn.Sequential:
    """sepnet-1k's layers with its pool one layer later: the first 12-channel layer sees 22x22, not
    10x10 (the same 990 parameters, more multiply-adds)."""
    return nn.Sequential(
        conv_bn_relu(1, 6),  # 26
        separable(6, 6),  # 24
        separable(6, 12),  # 22
        nn.MaxPool2d(2),  # 11
        separable(12, 12, dilation=2),  # 7
        separable(12, 12),  # 5
        GlobalAvgPool(keepdim=True),
        nn.Conv2d(12, classes, 1, bias=False),
        nn.Flatten(),
    )


def tiny_8k_aug_with(kind: type[nn.Module], **attributes):
    """A builder of tiny-8k-aug's layers with `attributes` set on every module of `kind`: its four
    Dropouts' `p` (0.05 registered), or its BatchNorms' running-statistics `momentum` (PyTorch's
    0.1: a horizon of about 10 batches)."""

    def build(classes: int = 10) -> nn.Sequential:
        net = tiny_8k_aug(classes)
        for module in net.modules():
            if isinstance(module, kind):
                for name, value in attributes.items():
                    setattr(module, name, value)
        return net

    return build


# The distilled screens' teacher: the most accurate published net on validation that trains in under
# 15 minutes here, pinned by its weights file
TEACHER = {
    "teacher": "dilated-20k",
    "weights_sha256": "64b529cd024c02c1090a4cbd11357cd6920ec2ada31e32691d039dc35b58ded8",
}

# dilated-100k's recipe as it was when the d100k screens trained (it has taken their 60 epochs since)
D100K_40 = RECIPE_100K.replace(epochs=40)

# One-Cycle's momentum cycle with its ends at 0.9, not 0.95 (t8a-mom-85-90): the recipe every tiny-8k-aug
# screen after that one starts from
CYCLE_ENDS_90 = ONE_CYCLE_RECIPE.replace(momentum_cycle=(0.85, 0.9))

SCREENS = {
    # name: (builder, parameter budget, recipe)
    "sep-a": (lambda classes=10: separable_net(8, (10, 10, 10), 0.05, classes), 1_000, RECIPE),
    "sep-c": (lambda classes=10: separable_net(6, (12, 12, 12), 0.05, classes), 1_000, RECIPE),
    "sep-d": (lambda classes=10: separable_net(6, (12, 12, 12), 0.0, classes), 1_000, RECIPE),
    # sepnet-1k's net for twice the epochs: its validation still rose in the last of 30
    "sep-d-60": (sepnet_1k, 1_000, RECIPE.replace(epochs=60)),
    # sepnet-1k's net and recipe, distilled from dilated-20k: soft targets at T 4 half the loss, or
    # sharper ones at T 2 most of it
    "sep-kd-t4": (sepnet_1k, 1_000, RECIPE.replace(distill={**TEACHER, "temperature": 4.0, "alpha": 0.5})),
    "sep-kd-t2": (sepnet_1k, 1_000, RECIPE.replace(distill={**TEACHER, "temperature": 2.0, "alpha": 0.9})),
    # sepnet-1k underfits (its last epoch's training accuracy is below its validation accuracy), and
    # distillation did not help it: resolution instead of parameters
    "sep-late-pool": (late_pool, 1_000, RECIPE),
    # or train it closer to what it is judged on: the last 10 epochs on plain images, or all 30
    "sep-plain-10": (sepnet_1k, 1_000, RECIPE.replace(plain_epochs=10)),
    "sep-plain": (sepnet_1k, 1_000, RECIPE.replace(plain_epochs=30)),
    "dilated-20k-a": (lambda classes=10: dilated_net(10, 20, 16, (24, 28, 28), classes), 20_000, RECIPE),
    "dilated-100k-a": (lambda classes=10: dilated_net(16, 32, 24, (48, 64, 64), classes), 100_000, RECIPE),
    # dilated-6k's net with weight decay, which the frontier recipe has none of
    "dilated-6k-wd": (lambda classes=10: dilated_6k(classes), 6_000, RECIPE.replace(weight_decay=5e-4)),
    # toward the best single model: dilated-100k's net and recipe, its last 5 of 40 epochs on plain
    # images (the lever that lifted sepnet-1k)
    "d100k-plain-5": (dilated_100k, 100_000, D100K_40.replace(plain_epochs=5)),
    # or the same recipe half as long again: its validation still rose over the last 10 of 40 epochs
    "d100k-60": (dilated_100k, 100_000, D100K_40.replace(epochs=60)),
    # toward the best single model again: dilated-100k's net and 60-epoch recipe, validated, tested
    # and published as a per-step moving average of its weights (a horizon of about 1.3 epochs). The
    # rule, fixed before it trained: dilated-100k takes this ema_decay if this seed 0 validates above
    # dilated-100k seed 0's 99.59% and then its three seeds' mean validation beats the record's 99.573%
    "d100k-ema": (dilated_100k, 100_000, RECIPE_100K.replace(ema_decay=0.999)),
    # tiny-8k-aug's net and recipe taught by dilated-20k: toward its consistency budget (the last 3 of
    # 14 epochs at 99.40% or more on validation), which no recipe of its own has held
    "t8a-kd-t4": (tiny_8k_aug, 8_000, ONE_CYCLE_RECIPE.replace(distill={**TEACHER, "temperature": 4.0, "alpha": 0.5})),
    # tiny-8k-aug with squeeze-excitation, the one lever not yet screened on it. The rule, fixed
    # before it trained: tiny-8k-aug takes it if seed 0's last 3 of 14 epochs all validate at 99.40% or
    # more, and then seeds 1 and 2 hold the same
    "t8a-se": (tiny_8k_aug_se, 8_000, ONE_CYCLE_RECIPE),
    # the squeeze-excitation did not hold (seed 0: 99.37 / 99.43 / 99.39%); resolution instead, from
    # the same list, under the same rule
    "t8a-late-pool": (tiny_8k_aug_late_pool, 8_000, ONE_CYCLE_RECIPE),
    # nor did the later pool (seed 0: 99.28 / 99.41 / 99.41%). tiny-8k-aug's registered net and recipe
    # with sharpness-aware minimisation at SAM's usual radius for SGD, under the same rule
    "t8a-sam": (tiny_8k_aug, 8_000, ONE_CYCLE_RECIPE.replace(sam_rho=0.05)),
    # it did not hold either (seed 0: 99.26 / 99.31 / 99.31%). A short moving average of the weights
    # (a horizon of about 100 steps, 0.13 epochs): the 0.999 one held its last epochs level but lagged
    # them (99.32 / 99.33 / 99.33%); this one smooths a step's noise without the lag. The same rule
    "t8a-ema-99": (tiny_8k_aug, 8_000, ONE_CYCLE_RECIPE.replace(ema_decay=0.99)),
    # nor this one (seed 0: 99.37 / 99.37 / 99.33%). Grouped convolutions, the lever not yet
    # screened on it: the three 3x3 convs after the squeeze in two shuffled groups, 22 wide. The same
    # rule: seed 0's last 3 of 14 epochs all at 99.40% or more on validation, then seeds 1 and 2
    "t8a-grouped": (tiny_8k_aug_grouped, 8_000, ONE_CYCLE_RECIPE),
    # if that one missed at seed 0: the squeeze-excitation and the later pool together (each alone
    # reached 99.40% on two of the three epochs). The same rule
    "t8a-se-late-pool": (tiny_8k_aug_se_late_pool, 8_000, ONE_CYCLE_RECIPE),
    # neither held (t8a-grouped seed 0: 99.37 / 99.38 / 99.35%; t8a-se-late-pool: 99.24 / 99.32 / 99.33%)
    # One-Cycle's momentum, never screened: the field the recipe set (0.9) was not read, and OneCycleLR
    # ran its own 0.95 -> 0.85 -> 0.95. Held at 0.9, as the recipe said; then only the ends lowered to 0.9
    # (at epoch 12 the cycle is back near 0.95, twice 0.9's step length for the same learning rate).
    # The same rule for each: seed 0's last 3 of 14 epochs at 99.40% or more on validation, then seeds 1-2
    "t8a-mom-90": (tiny_8k_aug, 8_000, ONE_CYCLE_RECIPE.replace(momentum_cycle=(0.9, 0.9))),
    "t8a-mom-85-90": (tiny_8k_aug, 8_000, CYCLE_ENDS_90),
    # t8a-mom-90 missed by one image (seed 0: 99.39 / 99.45 / 99.44%); t8a-mom-85-90 held on seed 0
    # (99.44 / 99.47 / 99.45%) but not on seeds 1 (99.40 / 99.41 / 99.38%) and 2 (99.38 / 99.43 / 99.40%).
    # The ends at 0.9 with weight decay 5e-4, which alone lifted the last two epochs (99.42 / 99.41%) but
    # left the twelfth behind (99.20%); then the whole cycle held at 0.85. The same rule for each
    "t8a-mom-wd": (tiny_8k_aug, 8_000, CYCLE_ENDS_90.replace(weight_decay=5e-4)),
    "t8a-mom-85": (tiny_8k_aug, 8_000, ONE_CYCLE_RECIPE.replace(momentum_cycle=(0.85, 0.85))),
    # neither held (seed 0: t8a-mom-wd 99.35 / 99.47 / 99.45%, t8a-mom-85 99.35 / 99.41 / 99.38%)
    # The nearest net of the earlier screens (squeeze-excitation, seed 0 99.37 / 99.43 / 99.39%) with the
    # cycle's ends at 0.9 (t8a-mom-85-90). The same rule: seed 0's last 3 of 14 epochs at 99.40% or more
    # on validation, then seeds 1 and 2
    "t8a-se-mom": (tiny_8k_aug_se, 8_000, CYCLE_ENDS_90),
    # it missed at the last epoch (seed 0: 99.40 / 99.42 / 99.37%)
    # Weight decay between none and t8a-mom-wd's 5e-4, which lifted the last two epochs (99.47 / 99.45%)
    # but left the twelfth behind (99.35%): 2e-4, then 1e-4, each with the cycle's ends at 0.9. The same
    # rule: seed 0's last 3 of 14 epochs at 99.40% or more on validation, then seeds 1 and 2
    "t8a-wd-2e4": (tiny_8k_aug, 8_000, CYCLE_ENDS_90.replace(weight_decay=2e-4)),
    "t8a-wd-1e4": (tiny_8k_aug, 8_000, CYCLE_ENDS_90.replace(weight_decay=1e-4)),
    # t8a-wd-2e4 held on seed 0 (99.43 / 99.46 / 99.45%) but not on seed 1 (99.29 / 99.37 / 99.40%)
    # nor did t8a-wd-1e4 (seed 0: 99.35 / 99.47 / 99.43%)
    # Three more, each one change to t8a-mom-85-90 (the cycle's ends at 0.9), trained in this order until
    # one holds, under the same rule (seed 0's last 3 of 14 epochs at 99.40% or more on validation, then
    # seeds 1 and 2): batch 128 at twice the peak (half the steps, each less noisy); Dropout 0.03 (the
    # net fits its warped, dropped-out training images no better than validation); a squeeze one
    # channel wider (13, 7,932 parameters of the 8,000)
    "t8a-b128": (tiny_8k_aug, 8_000, CYCLE_ENDS_90.replace(batch_size=128, lr=0.2)),
    "t8a-drop-03": (tiny_8k_aug_with(nn.Dropout, p=0.03), 8_000, CYCLE_ENDS_90),
    "t8a-sq13": (
        lambda classes=10: dilated_net(6, 16, 13, (16, 16, 16), classes),
        8_000,
        CYCLE_ENDS_90,
    ),
    # t8a-b128 missed by one image at the twelfth epoch (seed 0: 99.39 / 99.45 / 99.41%); t8a-drop-03
    # fell (99.23 / 99.29 / 99.29%)
    # If t8a-sq13 misses too, three more in this order, each one change to t8a-mom-85-90, the same
    # rule: the BatchNorms' running statistics over about 100 batches instead of 10 (momentum 0.01), so
    # what validation sees is less the last few batches' noise; the grouped net (t8a-grouped) with the
    # cycle's ends at 0.9; the warm-up 35% of the steps instead of 25% (15% did worse)
    "t8a-bn-01": (
        tiny_8k_aug_with(nn.BatchNorm2d, momentum=0.01),
        8_000,
        CYCLE_ENDS_90,
    ),
    "t8a-grouped-mom": (tiny_8k_aug_grouped, 8_000, CYCLE_ENDS_90),
    "t8a-warm-35": (tiny_8k_aug, 8_000, CYCLE_ENDS_90.replace(pct_start=0.35)),
    # t8a-grouped-mom missed (seed 0: 99.34 / 99.39 / 99.34%); t8a-warm-35 held on seed 0 (99.43 / 99.46 /
    # 99.45%) and missed on seed 1 (99.28 / 99.28 / 99.33%)
    # t8a-bn-01 held on seed 0 (99.46 / 99.45 / 99.48%) and missed on seed 1 (99.35 / 99.40 / 99.40%),
    # the seed on which t8a-mom-85-90 and t8a-wd-2e4 missed too. The levers that held a seed, together:
    # the slow BatchNorm statistics with weight decay 2e-4, then with batch 128 at peak 0.2 instead
    # (each with the cycle's ends at 0.9). The same bar, seed 1 first (then 0, then 2): all three
    # seeds must hold, and the seed that has failed the most costs the least to find out on
    "t8a-stack": (
        tiny_8k_aug_with(nn.BatchNorm2d, momentum=0.01),
        8_000,
        CYCLE_ENDS_90.replace(weight_decay=2e-4),
    ),
    "t8a-stack-b128": (
        tiny_8k_aug_with(nn.BatchNorm2d, momentum=0.01),
        8_000,
        CYCLE_ENDS_90.replace(batch_size=128, lr=0.2),
    ),
    # both missed on seed 1 (t8a-stack 99.30 / 99.39 / 99.39%, t8a-stack-b128 99.27 / 99.36 / 99.32%)
    # The last batch before the budget is reported out of reach of the levers tried: 56 runs of this
    # net's shape at 14 epochs average 99.36% +- 0.05 over their last three epochs on validation, and
    # the levers moved that mean less than the seeds spread it, so two not tried: width from
    # depthwise-separable convs (44 channels where the net has 16), and MixUp at alpha 0.1 (the issue's
    # lever; the net still gains in its last epochs, so it may underfit the blend), each with the
    # cycle's ends at 0.9. The same bar, seed 1 first, then 0, then 2
    # tiny-8k-aug's stem and pool, its three 3x3 convs after the squeeze depthwise-separable (squeeze
    # 24, then 44, 44 dilated, 40; 7,810 parameters)
    "t8a-sep-wide": (
        lambda classes=10: dilated_net(6, 16, 24, (44, 44, 40), classes, block=separable),
        8_000,
        CYCLE_ENDS_90,
    ),
    "t8a-mixup": (
        tiny_8k_aug,
        8_000,
        CYCLE_ENDS_90.replace(augment={"rotation": 5.0, "translate": 0.05, "mixup": 0.1}),
    ),
    # t8a-sep-wide held seed 1 (99.43 / 99.47 / 99.42%) and missed seed 0 (99.27 / 99.32 / 99.30%);
    # t8a-mixup missed seed 1 (99.06 / 99.23 / 99.21%)
    # Not a candidate (its MaxEpochs(14) forbids it): what the budget takes in epochs. The registered
    # net and recipe at the frontier models' 30 epochs, seeds 1, 0 and 2 whatever each gives, to place
    # the budget between dilated-6k (5,890 params, 30 epochs: no run keeps it) and dilated-20k
    "t8a-30": (tiny_8k_aug, 8_000, RECIPE),
    # it kept the window on seed 2 only (seed 1 99.35 / 99.37 / 99.35%, seed 0 99.39 / 99.40 / 99.42%,
    # seed 2 99.46 / 99.48 / 99.46%)
}

for _name, (_builder, _budget, _recipe) in SCREENS.items():
    register_model(_name, constraints=[MaxParams(_budget)], recipe=_recipe, gate=Gate(target=0.99), source=SOURCE)(
        _builder
    )
