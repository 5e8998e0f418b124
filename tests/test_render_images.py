"""Pictures as mail clients need them: typed by their bytes, not their names; scaled down to
what the mail shows so that a page of screenshots fits the size limit; and embedded files
(PDF previews and the like) shown with their name and a link to the file, always."""

from __future__ import annotations

import io
import json
import os
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from mailpage_cli.models import Page, Resource, Sender
from mailpage_cli.render import finish, prepare
from mailpage_cli.render.images import dimensions, image_type
from tests.conftest import run
from tests.support.confluence_server import (
    Attachment,
    FakeConfluence,
    Site,
    StaticFile,
    User,
)
from tests.support.confluence_server import Page as SitePage

PAGE_ID = "548929547"
ME = User("Ann Example", "ann@example.com")


def encoded(picture: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, kind, **options)
    return out.getvalue()


def screenshot(width: int, height: int, seed: int, chart: int = 3) -> Image.Image:
    """A window: a title bar, rows of 'text', and a noisy chart (``1/chart`` of the width
    and height) that does not compress."""
    picture = Image.new("RGB", (width, height), (244, 245, 247))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, width, 60), fill=(0, 82, 204))
    for y in range(100, height - 40, 28):
        draw.rectangle((40, y, 40 + (y * 7 + seed * 91) % (width - 80), y + 10), fill=(66, 82, 110))
    size = (width // chart, height // chart)
    picture.paste(Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)),
                  (width - size[0], height - size[1]))
    return picture


def photo(width: int, height: int) -> Image.Image:
    """Smooth noise, the way photographs keep JPEG busy."""
    small = Image.frombytes("RGB", (width // 4, height // 4), os.urandom(width * height * 3 // 16))
    return small.resize((width, height), Image.Resampling.BILINEAR)


def html_part(msg: EmailMessage) -> str:
    body = msg.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def text_part(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def image_parts(msg: EmailMessage) -> dict[str, EmailMessage]:
    return {str(p["Content-ID"]).strip("<>"): p for p in msg.walk() if p["Content-ID"]}


def img_tags(html: str) -> list[tuple[str, int, int]]:
    """Each ``<img>``: its cid, width and height attributes."""
    found = []
    for tag in re.findall(r"<img\b[^>]*>", html):
        cid = re.search(r'src="cid:([^"]+)"', tag)
        width = re.search(r'\swidth="(\d+)"', tag)
        height = re.search(r'\sheight="(\d+)"', tag)
        assert cid and width and height, tag
        found.append((cid[1], int(width[1]), int(height[1])))
    return found


def assert_honest(msg: EmailMessage) -> None:
    """Every part is what its Content-Type says, and the attributes Outlook draws by keep
    the picture's proportions."""
    parts = image_parts(msg)
    for cid, width, height in img_tags(html_part(msg)):
        data = parts[cid].get_content()
        assert image_type(data) == parts[cid].get_content_type(), parts[cid].get_filename()
        natural = dimensions(data)
        assert natural is not None
        assert abs(height - width * natural[1] / natural[0]) <= 1, (width, height, natural)


# --------------------------------------------------------------------------- a local export


def export_page(folder: Path, body: str, title: str = "Climate project") -> Path:
    page = folder / f"Climate-project_{PAGE_ID}.html"
    page.write_text(f"<html><head><title>XPan : {title}</title></head><body>"
                    f'<div id="main-content" class="wiki-content group">{body}</div></body></html>',
                    encoding="utf-8")
    return page


def embedded_pdf(attachment_id: str, name: str) -> str:
    """How a Cloud space export writes a PDF shown with the view-file macro: the preview
    has no file extension."""
    return (f'<span class="confluence-embedded-file-wrapper"><a class="confluence-embedded-file"'
            f' href="attachments/{PAGE_ID}/{attachment_id}.pdf"'
            f' data-linked-resource-id="{attachment_id}" data-linked-resource-type="attachment"'
            f' data-linked-resource-default-alias="{name}" data-nice-type="PDF Document"'
            f' data-linked-resource-content-type="application/pdf"'
            f' data-linked-resource-container-id="{PAGE_ID}">'
            f'<img src="attachments/thumbnails/{PAGE_ID}/{attachment_id}" height="250"/>'
            "</a></span>")


@pytest.fixture
def pdf_export(tmp_path: Path) -> Path:
    (tmp_path / "attachments" / "thumbnails" / PAGE_ID).mkdir(parents=True)
    (tmp_path / "attachments" / PAGE_ID).mkdir()
    (tmp_path / "attachments" / PAGE_ID / "906690578.pdf").write_bytes(b"%PDF-1.7 report")
    preview = Image.new("RGB", (177, 250), (250, 250, 250))
    ImageDraw.Draw(preview).rectangle((20, 20, 157, 60), fill=(30, 30, 30))
    (tmp_path / "attachments" / "thumbnails" / PAGE_ID / "906690578").write_bytes(
        encoded(preview, "JPEG", quality=90))
    return export_page(tmp_path, "<h2>Project documents</h2>"
                       f"<p>{embedded_pdf('906690578', 'Lessons Learned Report.pdf')}</p>"
                       "<h2>How to set up</h2><p>Read the report first.</p>")


def saved(page: Path, *args: str, env: dict[str, str] | None = None) -> tuple[EmailMessage, str]:
    result = run("send", str(page), "--to", "team@example.com", "--save", "-", *args, env=env)
    assert result.exit_code == 0, result.stderr
    msg = message_from_bytes(result.stdout_bytes, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg, result.stderr


def test_an_extension_less_jpeg_preview_is_embedded_with_the_file_name_beside_it(
    pdf_export: Path,
) -> None:
    msg, stderr = saved(pdf_export)
    assert "not an image" not in stderr
    (part,) = image_parts(msg).values()
    assert part.get_content_type() == "image/jpeg"
    assert part.get_content().startswith(b"\xff\xd8\xff")
    assert part.get_filename() == "906690578.jpg"
    html = html_part(msg)
    assert "Lessons Learned Report.pdf" in html
    assert re.search(r"Project documents</h2>\s*<p><span[^>]*><span[^>]*><img ", html)
    assert "Lessons Learned Report.pdf" in text_part(msg)
    assert_honest(msg)


def test_an_embedded_file_links_to_the_attachment_on_the_site(pdf_export: Path) -> None:
    msg, _ = saved(pdf_export, env={"MAILPAGE_CONFLUENCE_URL": "https://acme.atlassian.net/wiki"})
    file_url = (f"https://acme.atlassian.net/wiki/download/attachments/{PAGE_ID}/"
                "Lessons%20Learned%20Report.pdf")
    html = html_part(msg)
    assert re.search(rf'<a href="{re.escape(file_url)}"[^>]*>\S+ Lessons Learned Report.pdf</a>',
                     html)
    assert re.search(rf'<a href="{re.escape(file_url)}"[^>]*><img ', html)  # the preview too
    assert f"({file_url})" in text_part(msg)


def test_an_embedded_file_without_its_preview_keeps_its_name(pdf_export: Path) -> None:
    (pdf_export.parent / "attachments" / "thumbnails" / PAGE_ID / "906690578").unlink()
    msg, _ = saved(pdf_export)
    html = html_part(msg)
    assert "Lessons Learned Report.pdf" in html
    assert "<img" not in html.partition('class="mp-page"')[2]
    assert "[image" not in html


def test_a_png_named_jpg_is_sent_as_the_png_it_is(tmp_path: Path) -> None:
    (tmp_path / "attachments" / PAGE_ID).mkdir(parents=True)
    (tmp_path / "attachments" / PAGE_ID / "1246011.jpg").write_bytes(
        encoded(screenshot(300, 200, 1), "PNG"))
    page = export_page(tmp_path, f'<p><img src="attachments/{PAGE_ID}/1246011.jpg"'
                                 ' alt="Floor plan"></p>')
    msg, _ = saved(page)
    (part,) = image_parts(msg).values()
    assert part.get_content_type() == "image/png"
    assert part.get_filename() == "1246011.png"
    assert_honest(msg)


def test_an_svg_picture_is_left_out_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "attachments" / PAGE_ID).mkdir(parents=True)
    (tmp_path / "attachments" / PAGE_ID / "flow.svg").write_text(
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    page = export_page(tmp_path, f'<p><img src="attachments/{PAGE_ID}/flow.svg" alt="Flow"></p>')
    msg, stderr = saved(page)
    assert "flow.svg is an SVG drawing, which mail clients do not show" in stderr
    assert image_parts(msg) == {}
    assert "[image: Flow]" in html_part(msg)


# --------------------------------------------------------------------------- scaling down


@pytest.fixture(scope="module")
def screenshots() -> list[bytes]:
    """Twelve large screenshots, as PNG and as JPEG (as phones save them): 22 MB."""
    return [encoded(screenshot(2560, 1600, n), "PNG", compress_level=1) if n % 4 == 0
            else encoded(screenshot(2560, 1600, n, chart=2), "JPEG", quality=97)
            for n in range(12)]


@pytest.fixture
def screenshot_page(tmp_path: Path, screenshots: list[bytes]) -> Path:
    folder = tmp_path / "attachments" / PAGE_ID
    folder.mkdir(parents=True)
    body = ["<p>Every step of the install, as the wizard shows it.</p>"]
    for n, data in enumerate(screenshots):
        name = f"step-{n}." + ("jpg" if image_type(data) == "image/jpeg" else "png")
        (folder / name).write_bytes(data)
        width = ("", ' width="900"', ' width="400"')[n % 3]
        body.append(f'<p><span class="confluence-embedded-file-wrapper"><img'
                    f' class="confluence-embedded-image"{width}'
                    f' src="attachments/{PAGE_ID}/{name}" alt="Step {n}"></span></p>')
    # Left as they are: a small picture, and a GIF that moves.
    (folder / "spinner.gif").write_bytes(spinner())
    (folder / "icon.png").write_bytes(encoded(screenshot(48, 48, 0), "PNG"))
    body.append(f'<p><img src="attachments/{PAGE_ID}/spinner.gif" alt="Busy">'
                f'<img src="attachments/{PAGE_ID}/icon.png" alt="Icon"></p>')
    return export_page(tmp_path, "".join(body), title="Install wizard")


def spinner() -> bytes:
    """A wide animated GIF: three frames of one colour each."""
    frames = []
    for n in range(3):
        frame = Image.new("P", (1800, 1200), n)
        frame.putpalette([0, 82, 204, 54, 179, 126, 255, 153, 31])
        frames.append(frame)
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100,
                   loop=0)


def test_a_page_of_large_screenshots_is_scaled_down_to_fit_the_size_limit(
    screenshot_page: Path, screenshots: list[bytes], tmp_path: Path
) -> None:
    originals = sum(len(data) for data in screenshots)
    assert originals * 4 / 3 > 20_000_000  # as they are, over the default limit of 20 MB
    target = tmp_path / "mail.eml"
    result = run("send", str(screenshot_page), "--to", "team@example.com", "--save",
                 str(target), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    data = target.read_bytes()
    assert report["message"]["bytes"] == len(data) < 20_000_000
    scaled = [w for w in report["warnings"] if "scaled down to fit the mail" in w]
    assert scaled and scaled[0].startswith("12 images scaled down"), report["warnings"]
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert_honest(msg)
    parts = image_parts(msg)
    widths = {}
    for cid, width, _ in img_tags(html_part(msg)):
        natural = dimensions(parts[cid].get_content())
        assert natural is not None
        widths[parts[cid].get_filename()] = (natural[0], width)
    for n in range(12):
        natural, drawn = next(v for k, v in widths.items() if k.startswith(f"step-{n}."))
        assert natural == (1520, 1520, 800)[n % 3]  # twice the width shown, 1520 at most
        assert drawn == (640, 640, 400)[n % 3]
    gif = next(p for p in parts.values() if p.get_filename() == "spinner.gif")
    assert gif.get_content() == (screenshot_page.parent / "attachments" / PAGE_ID
                                 / "spinner.gif").read_bytes()
    assert widths["icon.png"] == (48, 48)


def test_a_transparent_screenshot_stays_a_png_at_twice_its_drawn_width() -> None:
    picture = screenshot(1500, 1000, 5, chart=2).convert("RGBA")
    picture.putalpha(Image.new("L", picture.size, 255))
    ImageDraw.Draw(picture).rectangle((0, 0, 200, 200), fill=(0, 0, 0, 0))
    source = Resource("overlay.png", "image/png", encoded(picture, "PNG", compress_level=1))
    prepared = prepare(Page("Page", '<p><img src="overlay.png" width="300" alt="x"></p>'))
    out = finish(prepared, {"overlay.png": source}, sender=Sender("ann@example.com"))
    (inline,) = out.images
    assert inline.image.content_type == "image/png"
    assert dimensions(inline.image.data) == (600, 400)
    with Image.open(io.BytesIO(inline.image.data)) as sent:
        assert sent.mode == "RGBA" and sent.getpixel((0, 0)) == (0, 0, 0, 0)
    assert re.search(r'<img [^>]*width="300"', out.html)
    assert re.search(r'<img [^>]*height="200"', out.html)
    assert any("1 image scaled down to fit the mail" in w for w in out.warnings)


# --------------------------------------------------------------------------- from the site


def test_a_site_preview_served_as_octet_stream_is_embedded_with_the_file_link() -> None:
    """Cloud's view-file macro: the preview is served under the PDF's name."""
    quoted = "Quarterly%20report.pdf"
    download = f"/wiki/download/attachments/98487/{quoted}?version=2&amp;api=v2"
    preview = (f"/wiki/download/thumbnails/98487/{quoted}?version=2&amp;api=v2"
               "&amp;viewType=fileMacro")
    html = ('<p><span class="confluence-embedded-file-wrapper conf-macro output-inline"'
            ' data-hasbody="false" data-macro-name="view-file"><a href="' + download + '"'
            ' class="confluence-embedded-file" data-nice-type="PDF Document"'
            f' data-file-src="{download}" data-mime-type="application/pdf"'
            f' data-has-thumbnail="true"><img src="{preview}" height="250" /></a></span></p>')
    jpeg = encoded(photo(400, 560), "JPEG", quality=80)
    site = Site("cloud", "/wiki", me=ME, pages=[SitePage(
        "98487", "Quarterly", export_view=html, view=html,
        attachments=[Attachment("Quarterly report.pdf", "application/pdf", b"%PDF-1.7")])],
        files={"/download/thumbnails/98487/Quarterly report.pdf":
               StaticFile("application/octet-stream", jpeg)})
    with FakeConfluence(site) as fake:
        msg, stderr = saved_page(fake)
    assert "not an image" not in stderr
    (part,) = image_parts(msg).values()
    assert part.get_content_type() == "image/jpeg"
    assert part.get_filename() == "Quarterly report.pdf.jpg"
    link = f"{fake.url}/download/attachments/98487/{quoted}?version=2&amp;api=v2"
    assert re.search(rf'<a href="{re.escape(link)}"[^>]*>\S+ Quarterly report.pdf</a>',
                     html_part(msg))
    assert_honest(msg)


def saved_page(fake: FakeConfluence) -> tuple[EmailMessage, str]:
    result = run("send", "98487", "--to", "team@example.com", "--save", "-", env=fake.env())
    assert result.exit_code == 0, result.stderr
    msg = message_from_bytes(result.stdout_bytes, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg, result.stderr


def test_an_older_pdf_macro_that_only_names_its_file_shows_the_name_linked() -> None:
    html = ('<div class="vf-slide-viewer-macro conf-macro output-block" data-hasbody="false"'
            ' data-macro-name="viewpdf" data-attachment="Safety+briefing+2026.pdf"'
            ' data-attachment-id="att4066201"><div class="vf-slide-viewer"></div></div>')
    prepared = prepare(Page("Page", html, id="4066190",
                            base_url="https://wiki.example.com/confluence"))
    out = finish(prepared, {}, sender=Sender("ann@example.com"))
    assert ('<a href="https://wiki.example.com/confluence/download/attachments/4066190/'
            'Safety%20briefing%202026.pdf"') in out.html
    assert "Safety briefing 2026.pdf</a>" in out.html
    assert "shown in Confluence only" not in out.html
