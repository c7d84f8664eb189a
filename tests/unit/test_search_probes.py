"""The part of a searched word the trigram index is asked for, from trigram shares of a catalogue's sample."""

from __future__ import annotations

from backend.database.search_probes import TrigramShares


def _shares(sampled: int = 1000, **shares: float) -> TrigramShares:
    return TrigramShares.of(((trigram, round(share * sampled)) for trigram, share in shares.items()), sampled)


def test_a_word_whose_letters_every_row_holds_is_found_by_its_rare_run() -> None:
    every_row = {"gro": 1.0, "rou": 1.0, "oup": 1.0, "mod": 1.0, "ode": 1.0, "del": 1.0}
    shares = _shares(**every_row, **{"414": 0.005, "5f3": 0.001, "f3a": 0.002})
    assert shares.probe("group_414") == "414"
    assert shares.probe("Model_5F3A") == "5f3a"  # lower-cased, as the index holds it


def test_a_word_of_common_runs_is_asked_whole_their_rows_would_cost_more() -> None:
    common = {trigram: 0.25 for trigram in ("dra", "rag", "ago", "gon", "cas", "ast", "stl", "tle")}
    assert _shares(**common).probe("dragon_castle") == "dragon_castle"
    assert _shares(**common).probe("Dragon") == "dragon"


def test_without_a_sample_and_for_other_scripts_the_whole_word_is_asked() -> None:
    assert TrigramShares.of([], 0).probe("Group_414") == "group_414"
    # Trigrams of other scripts are not shown by the sample as they are typed: such a run is never asked alone.
    shares = _shares(**{"mik": 0.9, "iku": 0.9})
    assert shares.probe("miku_初音ミク") == "miku_初音ミク"


def test_a_probe_is_always_part_of_the_word_so_the_rows_it_finds_include_every_match() -> None:
    shares = _shares(**{"gro": 1.0, "rou": 1.0, "oup": 1.0, "v15": 0.001, "abc": 0.0, "xyz": 0.3})
    for word in ("group_414", "Juggernaut-XL_v15", "abc.def", "x", "a_b_c", "xyz/abc/group", "初音ミク"):
        assert shares.probe(word) in word.lower(), word


def test_rows_holding_words_are_the_catalogue_times_each_words_rarest_share() -> None:
    shares = TrigramShares.of([("dra", 500), ("rag", 250), ("v10", 100)], 1000, catalogue_rows=100_000)
    assert shares.rows_holding(["DRAG"]) == 100_000 * 0.25
    assert shares.rows_holding(["dragon"]) == 100_000 * 0.5 / 1000  # "ago" and "gon" unseen: rarer than 1 in 1,000
    assert round(shares.rows_holding(["drag", "v10"])) == 100_000 * 0.25 * 0.1
    assert TrigramShares.of([], 0).rows_holding(["dragon"]) == 0
