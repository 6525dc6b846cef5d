"""Word ids to subword pieces, shared by the text nets built on a transformers encoder (the
transformers classifiers of `skills.model.hf_text`, the sentence encoder of `skills.model.embed_text`):
each word of the net's vocabulary keeps its tokenizer pieces in a table, the net packs them per row,
and only the embedding rows of the pieces used are kept. A helper, not a model family.

    words, table, cls, new_id = pretrained_pieces(tokenizer, model, words, param_limit=None)
    pieces = pack_pieces(ids, torch.tensor(table), pad=0, max_pieces=128, cls_id=cls)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

MAX_PIECES = 4  # subword pieces kept per word (longer words lose their tail)


def pack_pieces(ids: Any, table: Any, pad: int, max_pieces: int, cls_id: int = -1, sep_id: int = -1) -> Any:
    """Word ids [batch, length] (0 = padding) -> subword piece ids [batch, width] as a tokenizer
    gives them: each word's pieces from `table`, packed to the left in order, at most `max_pieces`
    per row, [CLS] first and [SEP] after the last piece when those ids are >= 0. Plain tensor ops,
    so the ONNX export keeps the width dynamic."""
    import torch
    from torch import nn

    ids = nn.functional.pad(ids, (0, 1), value=0)  # an empty text still has one column
    pieces = table[ids].reshape(ids.shape[0], -1)
    real = pieces != pad
    n = pieces.shape[1]
    # real pieces to the left, in order (keys are unique, so any sort keeps the order)
    key = (~real).long() * n + torch.arange(n, device=ids.device).unsqueeze(0)
    pieces = torch.gather(pieces, 1, torch.sort(key, dim=1).indices)
    # a tensor, not an int: the exported graph keeps the width dynamic
    counts = torch.clamp(real.sum(dim=1), max=max_pieces)
    width: Any = torch.clamp(counts.max(), min=1, max=max_pieces)
    pieces = pieces.index_select(1, torch.arange(width, device=ids.device))
    if sep_id >= 0:  # one more column; each row's [SEP] goes right after its last piece
        pieces = nn.functional.pad(pieces, (0, 1), value=pad)
        sep = torch.full_like(pieces[:, :1], sep_id)
        pieces = pieces.scatter(1, counts.unsqueeze(1), sep)
    if cls_id >= 0:
        pieces = torch.cat([torch.full_like(pieces[:, :1], cls_id), pieces], dim=1)
    return pieces


def config_dict(hf_config: Any) -> dict[str, Any]:
    """The transformers config as plain JSON values (what save_pretrained writes): saved in
    model.pt, so loading never needs the original pretrained directory."""

    d = json.loads(hf_config.to_json_string(use_diff=False))
    for key in ("architectures", "transformers_version", "_name_or_path"):
        d.pop(key, None)
    return dict(d)


def _prune_embeddings(model: Any, table: list[list[int]], keep: set[int], pad: int) -> list[list[int]]:
    """Keep only the input embedding rows in `keep` (the pieces the word table can produce); the
    table is renumbered and `pad` (the tokenizer's) becomes the model's pad id. Lossless for these
    inputs, and most of a pretrained model's size."""
    import torch
    from torch import nn

    used = sorted(keep)
    new_id = {old: i for i, old in enumerate(used)}
    old = model.get_input_embeddings()
    emb = nn.Embedding(len(used), old.weight.shape[1], padding_idx=new_id[pad])
    with torch.no_grad():
        emb.weight.copy_(old.weight[torch.tensor(used)])
    model.set_input_embeddings(emb)
    model.config.vocab_size = len(used)
    model.config.pad_token_id = new_id[pad]
    return [[new_id[p] for p in row] for row in table]


def pretrained_pieces(
    tokenizer: Any, model: Any, words: list[str], param_limit: int | None, extra: Sequence[int] = ()
) -> tuple[list[str], list[list[int]], int, dict[int, int]]:
    """(words kept, piece table [2 + words, K], [CLS] id, {old piece id: new id}) with the input
    embeddings pruned to the pieces used (and the `extra` ids, e.g. [SEP]); under `param_limit`,
    words are kept in frequency order while the model fits."""
    pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
    unk = int(tokenizer.unk_token_id if tokenizer.unk_token_id is not None else pad)
    cls = tokenizer.cls_token_id
    keep = {pad, unk, *(int(i) for i in extra)} | ({int(cls)} if cls is not None else set())
    hidden = int(model.get_input_embeddings().weight.shape[1])
    fixed = sum(p.numel() for p in model.parameters()) - model.get_input_embeddings().weight.numel()
    budget = None if param_limit is None else (param_limit - fixed) // hidden
    encoded = tokenizer(words, add_special_tokens=False)["input_ids"] if words else []
    table = [[pad], [unk]]
    kept: list[str] = []
    for word, ids in zip(words, encoded, strict=True):
        ids = [int(i) for i in ids[:MAX_PIECES]] or [unk]
        new = set(ids) - keep
        if budget is not None and len(keep) + len(new) > budget:
            continue
        keep |= new
        table.append(ids)
        kept.append(word)
    width = max(len(r) for r in table)
    table = [r + [pad] * (width - len(r)) for r in table]
    table = _prune_embeddings(model, table, keep, pad)
    new_id = {old: i for i, old in enumerate(sorted(keep))}
    return kept, table, new_id[int(cls)] if cls is not None else -1, new_id
