"""Words stay apart in the text alternative, tables fit the mail column, lists keep a list's
spacing: on small pages made for each case, on every page of the corpus, and in Chromium."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from mailpage_cli import render
from mailpage_cli.models import Page, RenderedPage, Sender
from tests.conftest import ROOT
from tests.support import judges
from tests.support.layout import layout
from tests.support.textcheck import glued_pairs

SENDER = Sender("ann@example.com", "Ann Example")
CORPUS = ROOT / "tests" / "data" / "corpus"
INDEX: list[dict[str, Any]] = json.loads((CORPUS / "index.json").read_text())
FILES = [entry["file"] for entry in INDEX]
SITES = {"cloud": "https://acme.atlassian.net/wiki",
         "datacenter": "https://wiki.example.com/confluence"}


def rendered(html: str) -> RenderedPage:
    return render.finish(render.prepare(Page(title="T", html=html)), {}, sender=SENDER)


def text_of(html: str) -> str:
    """The text part's body: the page's Markdown, without the title and the signature."""
    return rendered(html).text.split("\n\n", 1)[1].rsplit("\n\n-- \n", 1)[0]


@cache
def corpus_page(file: str) -> tuple[str, RenderedPage]:
    """A corpus page's source and its mail (its images left out: they are not judged)."""
    entry = next(e for e in INDEX if e["file"] == file)
    html = (CORPUS / file).read_text(encoding="utf-8")
    site = SITES[entry["deployment"]]
    page = Page(title=entry["title"], html=html, id=entry["id"], base_url=site,
                url=f"{site}/pages/viewpage.action?pageId={entry['id']}")
    return html, render.finish(render.prepare(page), {}, sender=SENDER)


def cell_table(*cells: str) -> str:
    header = "".join(f"<th><p><strong>H{n}</strong></p></th>" for n in range(len(cells)))
    row = "".join(f"<td>{cell}</td>" for cell in cells)
    return (f'<div class="table-wrap"><table class="confluenceTable"><tbody><tr>{header}</tr>'
            f"<tr>{row}</tr></tbody></table></div>")


# --- The text alternative ------------------------------------------------------------------


def test_spaces_at_the_edges_of_emphasis_go_outside_its_marks() -> None:
    text = text_of("<p>Feels <strong>very comfortable </strong>playing. The<strong> 3 users"
                   " </strong>were <em>all </em>new, a<strong> </strong>b.</p>")
    assert text == "Feels **very comfortable** playing. The **3 users** were *all* new, a b."


def test_emphasis_and_colours_ending_in_a_space_keep_table_words_apart() -> None:
    text = text_of(cell_table("Feels <strong>very comfortable </strong>playing",
                              '<span style="color: rgb(0,51,102);">90.0 </span>deg'))
    assert "| Feels **very comfortable** playing | 90.0 deg |" in text


def test_a_cell_of_paragraphs_and_lists_becomes_a_row_of_labelled_lines() -> None:
    """A table with a cell of blocks is written as a list of rows, each cell under its
    column's header: a bold paragraph and the list after it stay two lines."""
    text = text_of(cell_table(
        "<p>1. Walk-around</p>",
        "<p><strong>User Tasks</strong></p><ul><li><p>Learner walks</p></li>"
        "<li><p>Learner points</p></li></ul><p>Then<br />rest</p>",
        "<p>All named.</p><p>Back at the seat.</p>"))
    assert text == ("- H0: 1. Walk-around\n"
                    "  H1:\n"
                    "    **User Tasks**\n"
                    "    - Learner walks\n"
                    "    - Learner points\n"
                    "    Then\n"
                    "    rest\n"
                    "  H2:\n"
                    "    All named.\n"
                    "    Back at the seat.")


def test_a_task_list_in_a_cell_keeps_one_task_a_line() -> None:
    text = text_of(cell_table(
        "<p>Week 1</p>",
        '<p>Agree the plan</p><ul class="inline-task-list"><li class="checked"'
        ' data-inline-task-id="1"><span>Announcement drafted</span></li>'
        '<li data-inline-task-id="2"><span>Form signed</span></li></ul><p>Outcomes</p>'))
    assert ("  H1:\n    Agree the plan\n    - ☑\xa0Announcement drafted\n"
            "    - ☐\xa0Form signed\n    Outcomes") in text


def test_merged_cells_label_the_cells_of_their_own_column() -> None:
    text = text_of('<table class="confluenceTable"><tr><th>A</th><th>B</th><th>C</th></tr>'
                   '<tr><td rowspan="2">r</td><td colspan="1"><p>x</p><p>y</p></td>'
                   "<td>z</td></tr><tr><td>b2</td><td>c2</td></tr></table>")
    assert text == "- A: r\n  B:\n    x\n    y\n  C: z\n\n- B: b2\n  C: c2"


def test_a_list_cell_without_a_header_keeps_its_bullets_level() -> None:
    text = text_of('<table class="confluenceTable"><tr><th>Failure domain</th><td><ul>'
                   "<li>lose one zone</li><li>lose one node</li></ul></td></tr>"
                   "<tr><th>Rate</th><td>1 USD</td></tr></table>")
    assert text == ("- Failure domain\n  - lose one zone\n  - lose one node\n\n"
                    "- Rate\n  1 USD")


def test_divs_of_text_are_paragraphs_not_one_word() -> None:
    assert text_of("<div>alpha</div><div>beta</div><div><p>x</p>gamma</div>") == \
        "alpha\n\nbeta\n\nx\n\ngamma"


def test_a_table_of_contents_inside_a_heading_follows_it_as_a_list() -> None:
    text = text_of('<h2 id="c">Contents<div class="toc-macro rbtoc1"><ul class="toc-indentation">'
                   '<li><a href="#a">一：Alpha</a><ul><li><a href="#b">1. Beta</a></li></ul></li>'
                   '<li><a href="#g">二：Gamma</a></li></ul></div></h2><p>after</p>')
    assert text == "## Contents\n\n- 一：Alpha\n  - 1. Beta\n- 二：Gamma\n\nafter"


def test_the_glued_pair_judge_sees_glue_and_the_text_part_has_none() -> None:
    html = ("<p>Feels <strong>very comfortable </strong>playing</p>"
            + cell_table("<p><strong>User Tasks</strong></p><ul><li><p>Learner walks</p></li></ul>",
                         '<span style="color: red">90.0 </span>deg'))
    glued = ("Feels very **comfortable**playing\n\n| H0 | H1 |\n"
             "| User TasksLearner walks | 90.0deg |")
    assert glued_pairs(html, glued) == [("comfortable", "playing"), ("Tasks", "Learner"),
                                        ("0", "deg")]
    assert glued_pairs(html, rendered(html).text) == []


@pytest.mark.parametrize("file", FILES)
def test_no_two_words_of_a_corpus_page_are_glued_in_its_text_part(file: str) -> None:
    html, mail = corpus_page(file)
    assert glued_pairs(html, mail.text) == []


def test_the_scenario_page_keeps_its_cell_lists_in_the_text_part() -> None:
    _, mail = corpus_page("forklift-scenarios.html")
    assert ("- Scenario: 1. Walk-around\n  Steps:\n    **User Tasks**\n"
            "    - Learner walks around the truck counter-clockwise\n") in mail.text
    assert "The **4 testers who rated the module 6/10 or lower** were" in mail.text


def test_the_heading_around_a_table_of_contents_is_not_a_long_heading_line() -> None:
    _, mail = corpus_page("plugin-stack-loader.html")
    headings = [line for line in mail.text.splitlines() if line.startswith("#")]
    assert all(len(heading) < 60 for heading in headings), headings
    assert "\n- [Summary](" in mail.text


# --- Tables in the mail column -------------------------------------------------------------


def table_html(mail: RenderedPage, index: int = 0) -> str:
    return re.findall(r"<table class=\"[^\"]*confluenceTable.*?</table>", mail.html, re.S)[index]


def test_fixed_widths_wider_than_the_column_become_percentages_in_css_and_attributes() -> None:
    mail = rendered('<div class="table-wrap"><table class="relative-table confluenceTable"'
                    ' style="width: 981.0px;"><colgroup><col style="width: 90.0px;" />'
                    '<col style="width: 891.0px;" /></colgroup><tbody><tr>'
                    '<td style="width: 90px" width="90">a</td><td>b</td></tr></tbody></table>'
                    "</div>")
    table = table_html(mail)
    assert "981" not in table and "891" not in table and "90px" not in table
    assert re.search(r'<table[^>]*width="100%"', table)
    assert re.search(r"<table[^>]*style=\"[^\"]*width: 100%", table)
    assert '<col style="width: 9.2%;" width="9.2%">' in table
    assert '<col style="width: 90.8%;" width="90.8%">' in table


def test_widths_that_fit_and_percentages_stay_written_alike_as_css_and_attribute() -> None:
    mail = rendered('<table class="relative-table confluenceTable" style="width: 100.0%;">'
                    '<colgroup><col style="width: 13.2%;" /><col width="86.8%" /></colgroup>'
                    '<tr><td>a</td><td>b</td></tr></table>'
                    '<table class="confluenceTable" style="width: 400px"><tr><td>c</td></tr>'
                    "</table>")
    first, second = table_html(mail, 0), table_html(mail, 1)
    assert re.search(r'<table[^>]*width="100%"', first)
    assert '<col style="width: 13.2%;" width="13.2%">' in first
    assert re.search(r'<col[^>]*width="86.8%"[^>]*style="width: 86.8%;"|'
                     r'<col[^>]*style="width: 86.8%;"[^>]*width="86.8%"', first)
    assert re.search(r'<table[^>]*width="400"', second)


def test_long_tokens_in_cells_get_break_opportunities_only_in_the_html() -> None:
    path = "/entry1/instrument/detector/projection_stack"
    mail = rendered(cell_table(f"<code>{path}</code>", "StackLoaderWithDarkFlatCorrection",
                               "short words stay whole"))
    assert "/<wbr>entry1/<wbr>instrument/<wbr>detector/<wbr>projection_<wbr>stack" in mail.html
    assert "Stack<wbr>Loader<wbr>With<wbr>Dark<wbr>Flat<wbr>Correction" in mail.html
    assert "short words stay whole" in mail.html
    assert f"`{path}`" in mail.text and "StackLoaderWithDarkFlatCorrection" in mail.text


def test_tables_of_many_columns_get_less_padding_in_css_and_attribute() -> None:
    mail = rendered(cell_table(*[f"c{n}" for n in range(9)]))
    table = table_html(mail)
    assert 'cellpadding="4"' in table
    assert table.count("padding: 4px") == 18


@pytest.mark.parametrize("file", FILES)
def test_chromium_fits_every_corpus_page_in_a_760_px_window(file: str) -> None:
    """No table ends right of the mail column, nothing scrolls sideways: not the page, not
    a table's scroll box."""
    judges.require_judge("chromium")
    _, mail = corpus_page(file)
    found = layout(mail.html, width=760)
    assert found.fits, found


# --- Lists ---------------------------------------------------------------------------------


def test_paragraphs_in_list_items_get_a_list_items_margins() -> None:
    html = rendered('<ul><li><p>one</p><p>more</p></li><li><p style="margin: 9px">own</p></li>'
                    "</ul><p>plain</p>").html
    assert '<li><p style="margin: 0;">one</p><p style="margin: 4px 0 0 0;">more</p></li>' in html
    assert '<p style="margin:9px">own</p>' in html


def test_chromium_draws_a_list_of_paragraphs_as_tall_as_a_list_of_words() -> None:
    judges.require_judge("chromium")
    items = [f"Item number {n} of the list" for n in range(20)]
    words = rendered("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
    paragraphs = rendered("<ul>" + "".join(f"<li><p>{i}</p></li>" for i in items) + "</ul>")
    plain = judges.chromium_render(words.html).height
    assert judges.chromium_render(paragraphs.html).height <= plain + 4
