"""Each loss against values computed by hand on small tensors."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from arsr import losses


def _pair():
    hr = torch.zeros(1, 1, 2, 2)
    sr = torch.tensor([[[[0.1, -0.2], [0.0, 0.4]]]])
    return sr, hr


def test_mse_charbonnier_huber_by_hand():
    sr, hr = _pair()
    assert losses.mse(sr, hr).item() == pytest.approx((0.01 + 0.04 + 0 + 0.16) / 4)
    eps = 1e-3
    want = sum(math.sqrt(d * d + eps * eps) for d in (0.1, -0.2, 0.0, 0.4)) / 4
    assert losses.charbonnier(sr, hr, eps).item() == pytest.approx(want, rel=1e-6)
    delta = 0.15  # 0.1 and 0 are inside, 0.2 and 0.4 outside
    want = (0.5 * 0.01 + delta * (0.2 - 0.5 * delta) + 0 + delta * (0.4 - 0.5 * delta)) / 4
    assert losses.huber(sr, hr, delta).item() == pytest.approx(want, rel=1e-6)


def test_wmse_weights_by_flow_magnitude():
    sr, hr = _pair()
    flow = torch.zeros(1, 2, 2, 2)
    flow[0, 0] = torch.tensor([[3.0, 0.0], [0.0, 0.0]])
    flow[0, 1] = torch.tensor([[4.0, 1.0], [0.0, 2.0]])  # magnitudes 5, 1, 0, 2
    want = (5 * 0.01 + 1 * 0.04 + 0 + 2 * 0.16) / 4
    assert losses.wmse(sr, hr, flow).item() == pytest.approx(want, rel=1e-6)
    # a motionless pixel counts once a floor is set; normalisation makes the mean weight 1
    floored = (5 * 0.01 + 1 * 0.04 + 0.5 * 0 + 2 * 0.16) / 4
    assert losses.wmse(sr, hr, flow, floor=0.5).item() == pytest.approx(floored, rel=1e-6)
    w = losses.flow_weights(flow, normalize=True)
    assert w.mean().item() == pytest.approx(1.0)
    assert losses.wmse(sr, hr, flow, normalize=True).item() == pytest.approx(want / 2, rel=1e-6)


def test_wmse_uniform_flow_is_m_times_mse():
    g = torch.Generator().manual_seed(0)
    sr, hr = torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g)
    flow = torch.zeros(2, 2, 8, 8)
    flow[:, 0], flow[:, 1] = 1.8, -2.4  # magnitude 3
    assert losses.wmse(sr, hr, flow).item() == pytest.approx(3 * losses.mse(sr, hr).item(), rel=1e-6)
    with pytest.raises(ValueError, match="must agree"):
        losses.wmse(sr, hr, flow[:, :, :4])


def test_colour_loss_sees_a_global_shift_and_not_texture():
    sr, hr = _pair()  # channel mean 0.075 against 0
    assert losses.colour_loss(sr, hr).item() == pytest.approx(0.075, rel=1e-6)
    g = torch.Generator().manual_seed(0)
    hr = torch.rand(2, 3, 8, 8, generator=g)
    noise = torch.rand(2, 3, 8, 8, generator=g) - 0.5
    texture = hr + noise - noise.mean(dim=(-2, -1), keepdim=True)  # same means, other pixels
    assert losses.colour_loss(texture, hr).item() == pytest.approx(0.0, abs=1e-6)
    shift = torch.tensor([0.02, -0.01, 0.0]).view(1, 3, 1, 1)  # +2/-1/0 per cent per channel
    assert losses.colour_loss(texture + shift, hr).item() == pytest.approx(0.01, rel=1e-4)
    # the per-pixel losses grow by far less than the shift: why they do not hold the colour
    assert losses.mse(texture + shift, hr).item() - losses.mse(texture, hr).item() < 0.001


def test_d_loss_at_chance_is_the_losses_value_for_equal_logits():
    from arsr.trends import D_LOSS_AT_CHANCE

    same = torch.full((4, 1), 0.7)  # D gives HR and SR the same logit: it cannot tell them apart
    vanilla = losses.gan_loss(torch.zeros(4, 1), True) + losses.gan_loss(torch.zeros(4, 1), False)
    assert vanilla.item() == pytest.approx(D_LOSS_AT_CHANCE["vanilla"], rel=1e-6)
    assert losses.ragan_d_loss(same, same).item() == pytest.approx(D_LOSS_AT_CHANCE["ragan"], rel=1e-6)


def test_feature_loss_is_l1_of_features_and_only_sr_gets_gradients():
    net = nn.Conv2d(1, 1, 1, bias=False)
    net.weight.data.fill_(2.0)
    for p in net.parameters():
        p.requires_grad_(False)
    sr, hr = _pair()
    sr.requires_grad_(True)
    loss = losses.feature_loss(sr, hr, net)
    assert loss.item() == pytest.approx(2 * (0.1 + 0.2 + 0 + 0.4) / 4, rel=1e-6)
    loss.backward()
    assert sr.grad is not None and sr.grad.abs().sum() > 0


def test_gan_losses_by_hand():
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    pred = torch.tensor([0.5, -1.0])
    want = -(math.log(sig(0.5)) + math.log(sig(-1.0))) / 2
    assert losses.gan_loss(pred, True).item() == pytest.approx(want, rel=1e-6)
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])  # means 1 and 0
    # D: real - E[fake] = [2, 0] -> label 1; fake - E[real] = [-2, 0] -> label 0
    d_want = 0.5 * (-(math.log(sig(2)) + math.log(sig(0))) / 2
                    - (math.log(1 - sig(-2)) + math.log(1 - sig(0))) / 2)
    assert losses.ragan_d_loss(real, fake).item() == pytest.approx(d_want, rel=1e-6)
    g_want = 0.5 * (-(math.log(1 - sig(2)) + math.log(1 - sig(0))) / 2
                    - (math.log(sig(-2)) + math.log(sig(0))) / 2)
    assert losses.ragan_g_loss(real, fake).item() == pytest.approx(g_want, rel=1e-6)


def test_warp_loss_terms():
    g = torch.Generator().manual_seed(1)
    hr_t = torch.rand(1, 3, 10, 12, generator=g)
    hr_next = torch.roll(hr_t, shifts=1, dims=3)  # content moves 1 px right: flow t->t+1 = +1 x
    flow = torch.zeros(1, 2, 10, 12)
    flow[:, 0] = 1.0
    # perfect SR: the data terms vanish; the warp reproduces frame t except in the last column,
    # where the border padding repeats frame t+1's edge pixel (hr_t's column w-2)
    perfect = losses.warp_loss(hr_t, hr_next, hr_t, hr_next, flow)
    edge = ((hr_t[..., -1] - hr_t[..., -2]) ** 2).sum() / hr_t.numel()
    assert perfect.item() == pytest.approx((0.8 + 0.1) * edge.item(), rel=1e-5)
    # by hand with a constant SR error e and zero flow: terms alpha e^2 + alpha e^2 + 0 + gamma e^2
    e = 0.1
    zero = torch.zeros(1, 2, 10, 12)
    val = losses.warp_loss(hr_t + e, hr_t + e, hr_t, hr_t, zero, alpha=1.0, beta=0.8, gamma=0.1)
    assert val.item() == pytest.approx((1 + 1 + 0 + 0.1) * e * e, rel=1e-5)
    hub = losses.warp_loss(hr_t + e, hr_t + e, hr_t, hr_t, zero, norm="huber", delta=0.01)
    per = 0.01 * (e - 0.005)
    assert hub.item() == pytest.approx(2.1 * per, rel=1e-5)
    with pytest.raises(ValueError, match="l2, huber"):
        losses.warp_loss(hr_t, hr_t, hr_t, hr_t, zero, norm="l1")


def test_warp_loss_rewards_temporal_consistency():
    g = torch.Generator().manual_seed(2)
    hr_t = torch.rand(1, 1, 16, 16, generator=g)
    flow = torch.zeros(1, 2, 16, 16)
    flow[:, 1] = 2.0  # frame t+1 content at p + (0, 2)
    hr_next = torch.roll(hr_t, shifts=2, dims=2)
    noise = 0.05 * torch.rand(1, 1, 16, 16, generator=g)
    consistent = losses.warp_loss(hr_t + noise, torch.roll(hr_t + noise, 2, 2), hr_t, hr_next, flow)
    flicker = losses.warp_loss(hr_t + noise, hr_next - torch.roll(noise, 2, 2), hr_t, hr_next, flow)
    assert consistent.item() < flicker.item()
