"""A WordPiece vocabulary learnt from the report corpus, for text encoders trained from scratch.

A general-domain vocabulary splits radiology words into many pieces ("cardiomegaly" becomes
five), which wastes the token budget and makes word-level alignment (MGCA, AdaMatch) align word
fragments. When no clinical BERT is available, a vocabulary learnt from the reports themselves
keeps such words whole; the encoder is then initialised from a BERT configuration
(``RecipeConfig.text_from_scratch`` with ``text_tokenizer`` pointing to the saved directory).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece
from tokenizers.trainers import WordPieceTrainer
from transformers import BertTokenizerFast

from cxralign.models.files import replace_directory

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
"""BERT's special tokens, in the order that gives [PAD] id 0 (BERT's ``pad_token_id``)."""


def train_wordpiece_tokenizer(texts: Iterable[str], vocab_size: int,
                              out_dir: str | Path) -> BertTokenizerFast:
    """Learn a lower-casing BERT WordPiece vocabulary of at most ``vocab_size`` entries from
    ``texts`` and save it (``save_pretrained``) to ``out_dir``, replacing what was there.

    The result loads with ``AutoTokenizer.from_pretrained(out_dir)`` and adds [CLS] ... [SEP]
    like any BERT tokenizer.
    """
    tokenizer = Tokenizer(WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                               show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[(token, tokenizer.token_to_id(token)) for token in ("[CLS]", "[SEP]")],
    )
    wrapped = BertTokenizerFast(tokenizer_object=tokenizer, do_lower_case=True)
    replace_directory(Path(out_dir), wrapped.save_pretrained)
    return wrapped
