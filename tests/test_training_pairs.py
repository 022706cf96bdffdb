"""The changes that make the judge's unsupported claims and swapped questions (training/perturb.py), and the
pieces of the pair builder that need no index (training/build_pairs.py)."""

from __future__ import annotations

import random
import re

from evals.metrics import auc
from training.build_pairs import heldout_packages, term_name
from training.perturb import names_in, negate, perturbations, swap_comparative, swap_name, swap_number


def test_a_number_is_swapped_for_another():
    changed = swap_number("The default is 300 seconds.", random.Random(0))
    assert re.findall(r"\d+", changed) != ["300"] and changed.endswith(" seconds.")
    assert swap_number("No digits here.", random.Random(0)) is None


def test_negation_is_added_or_removed():
    assert negate("Privoxy can filter cookies.") == "Privoxy cannot filter cookies."
    assert negate("The option is not set.") == "The option is set."


def test_a_comparative_becomes_its_opposite_keeping_case():
    assert swap_comparative("Lower values mean faster retries.") == "Higher values mean faster retries."
    assert swap_comparative("Nothing to swap here.") is None


def test_a_name_is_swapped_for_one_of_the_same_shape_the_text_lacks():
    changed = swap_name("Set ReplayWindow to 32.", ["ReplayWindow", "PingTimeout", "port"], random.Random(0))
    assert changed == "Set PingTimeout to 32."
    assert "socket-timeout" in names_in("Use socket-timeout and DNS with Privoxy.")


def test_perturbations_never_return_the_text_unchanged():
    text = "Enable the cache to keep 128 entries."
    for kind, changed in perturbations(text, ["PingTimeout"], random.Random(1)):
        assert changed != text and kind in ("number", "negation", "comparative", "name")


def test_term_names_are_the_option_before_its_value():
    assert term_name("add_header = <text>") == "add_header"
    assert term_name("--root") == "--root"
    assert term_name("Cipher = <cipher> (aes-256-cbc)") == "Cipher"


def test_heldout_packages_are_a_fixed_quarter():
    packages = [f"p{n}" for n in range(20)]
    assert heldout_packages(packages) == heldout_packages(list(reversed(packages)))
    assert len(heldout_packages(packages)) == 5


def test_auc_counts_ties_as_half():
    assert auc([0.9, 0.2, 0.6], [1, 0, 0]) == 1.0
    assert auc([0.5, 0.5], [1, 0]) == 0.5
    assert auc([0.1], [1]) is None


def test_a_detail_the_passage_gives_is_answerable_and_one_it_lacks_is_not():
    from training.details import DETAILS, detail_pairs

    text = "ReplayWindow = <bytes> (16). The default is 16 bytes; at most 4096 bytes are kept."
    by_name = {d.name: d for d in DETAILS}
    assert by_name["default"].given(text) and by_name["maximum"].given(text) and not by_name["port"].given(text)
    for seed in range(20):
        pairs = detail_pairs("ReplayWindow", "tinc > ReplayWindow", text, random.Random(seed), defines=True)
        labels = {p["label"]: p["a"] for p in pairs}
        assert labels[1].startswith("question: ") and "ReplayWindow" in labels[1]
        asked = {p["label"]: next(d for d in DETAILS if any(q.format(x="ReplayWindow") in p["a"] for q in d.questions))
                 for p in pairs}
        assert asked[1].given(text) and (0 not in asked or not asked[0].given(text))


def test_a_detail_counts_for_a_name_only_near_its_mention():
    from training.details import DETAILS

    port = next(d for d in DETAILS if d.name == "port")
    text = "The Cipher option picks the algorithm. " + "Other options follow here. " * 6 + "Port 655 is used."
    assert port.given(text) and port.given(text, "Port") and not port.given(text, "Cipher")


def test_a_capitalised_word_that_only_starts_sentences_is_no_subject():
    from training.details import subjects

    found = subjects("Similarly, Privoxy reads its config. Here the MaxStartups option of sshd is set.")
    assert "Privoxy" in found  # after "Similarly, ": a name inside a sentence
    assert "MaxStartups" in found and "Similarly" not in found and "Here" not in found
