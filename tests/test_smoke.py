from genweb.catalogue import PAGES


def test_every_page_renders_its_keys_and_descriptions(client):
    for page in PAGES.values():
        url = page.url if not page.collection else page.url + "/create"
        html = client.get(url).get_data(as_text=True)
        shown = page.keys if page.name != "databaseConfig" else [
            k for k in page.keys if k.name in ("dbEngine", "dbHost", "kamDatabase", "dbrwUser", "dbrwPass")]
        for key in shown:
            assert f'<td class="name"><label for="f-{key.name}">{key.name}</label></td>' in html, (page.name, key.name)
            assert key.description.replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;") in html, key.name


def test_login_is_required(app):
    assert app.test_client().get("/").status_code == 401


def test_keys_reference_is_up_to_date():
    from pathlib import Path

    from genweb.catalogue.docs import keys_markdown

    shipped = (Path(__file__).parent.parent / "docs" / "keys.md").read_text()
    assert shipped == keys_markdown(), "regenerate: python -m genweb.catalogue.docs > docs/keys.md"


def test_every_key_lands_somewhere_and_the_engine_map_is_up_to_date():
    from pathlib import Path

    from genweb.commit.engine_map import engine_map_markdown, entries

    mapped = {(page, key) for page, key, _ in entries()}
    missing = [(page.name, key.name) for page in PAGES.values() for key in page.keys
               if (page.name, key.name) not in mapped]
    assert missing == []
    unknown = [pair for pair in mapped if pair[0] not in PAGES or pair[1] not in PAGES[pair[0]].key_map]
    assert unknown == []
    shipped = (Path(__file__).parent.parent / "docs" / "engine-map.md").read_text()
    assert shipped == engine_map_markdown(), "regenerate: python -m genweb.commit.engine_map > docs/engine-map.md"
