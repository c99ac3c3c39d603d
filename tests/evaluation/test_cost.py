"""The detector's cost (ifdsed.evaluation.cost): MACs counted by hand for a small encoder, and parameters."""
from ifdsed.evaluation.cost import inference_cost
from ifdsed.models.config import ModelConfig
from ifdsed.models.sed_model import SEDModel


def test_macs_match_a_hand_count_of_the_convolutions_and_heads():
    frames, mels = 10, 16
    config = ModelConfig(n_mels=mels, n_classes=3, channels=(2, 4), kernels=((3, 3), (3, 3)),
                         freq_pool=((1, 4), (1, 4)), input_batchnorm=False)
    model = SEDModel(config)
    cost = inference_cost(model, frames, mels)
    convolutions = frames * mels * 2 * 1 * 9 + frames * (mels // 4) * 4 * 2 * 9     # [T, F, C_out, C_in, k]
    emb = config.emb_dim                                                             # 4 channels x 1 bin
    # ATP: frame logits [T, D] x [D, C], attention pooling [C, T] x [T, D], clip logits [C, D] . [C, D]
    heads = frames * emb * 3 + 3 * frames * emb + 3 * emb
    assert cost["cost/macs_per_clip"] == convolutions + heads
    assert cost["cost/parameters"] == model.num_parameters()
    assert model.training        # left in the mode it was in


def test_the_branches_add_their_heads_only():
    base, both = (inference_cost(SEDModel(ModelConfig(channels=(4, 4, 4), ifd=i, sedb=s)), 50, 64)
                  for i, s in ((False, False), (True, True)))
    emb = ModelConfig(channels=(4, 4, 4)).emb_dim
    assert both["cost/macs_per_clip"] - base["cost/macs_per_clip"] == 50 * emb * (10 + emb)   # SEDB + IFD
