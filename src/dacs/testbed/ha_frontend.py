"""Home Assistant's frontend used as a person uses it, in the headless browser.

The frontend is web components: every lookup walks the shadow roots. A
control is clicked only once it has stopped moving and is the element a
mouse would hit there (no dialog or toast over it); every wait is on a
condition of the page, with a timeout, never a fixed sleep.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from typing import Any

import aiohttp

from .browser import Page, PageWaitError

# Waits sized for a loaded two-core machine: Home Assistant's first page
# load compiles and renders a few megabytes of JavaScript.
LOAD_TIMEOUT_S = 120.0
STEP_TIMEOUT_S = 45.0
LOGIN_ATTEMPTS = 3
# How often a walk through every shadow root polls: the frontend loads its
# icons when the page is idle, which a tighter loop would starve.
WALK_EVERY_S = 0.5

DEEP_JS = """
const deepAll = (selector, root = document) => {
  const found = [...root.querySelectorAll(selector)];
  for (const element of root.querySelectorAll('*')) {
    if (element.shadowRoot) found.push(...deepAll(selector, element.shadowRoot));
  }
  return found;
};
const textOf = (element) => (element.innerText ?? element.textContent ?? '').trim();
const visible = (element) => {
  const box = element.getBoundingClientRect();
  return box.width > 0 && box.height > 0;
};
// A leaf that reads exactly `name` and takes up room on the page.
const named = (name) => deepAll('*').find(
  e => e.children.length === 0 && textOf(e) === name && visible(e));
// From a row's label up through its ancestors (and shadow hosts) to the first
// one that holds a visible match of the selector: the control of that row.
const controlOf = (name, selector) => {
  for (let node = named(name); node; node = node.parentNode ?? node.host) {
    if (node.querySelectorAll) {
      const hit = deepAll(selector, node).find(visible);
      if (hit) return hit;
    }
  }
  return null;
};
// The innermost element at a point, through shadow roots.
const deepHit = (x, y) => {
  let hit = document.elementFromPoint(x, y);
  while (hit?.shadowRoot) {
    const inner = hit.shadowRoot.elementFromPoint(x, y);
    if (!inner || inner === hit) break;
    hit = inner;
  }
  return hit;
};
const within = (inner, outer) => {
  for (let node = inner; node; node = node.parentNode ?? node.host) {
    if (node === outer) return true;
  }
  return false;
};
const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
"""


@dataclass(frozen=True)
class Point:
    """A point of the viewport, in CSS pixels."""

    x: float
    y: float


def in_page(body: str) -> str:
    """A JavaScript expression running ``body`` (which returns) with the helpers."""
    return f"(async () => {{ {DEEP_JS} {body} }})()"


def row_label(name: str) -> str:
    """JavaScript finding the visible label ``name`` (an entity row, a button)."""
    return f"named({json.dumps(name)})"


def button(text: str) -> str:
    """JavaScript finding the visible button that reads ``text``."""
    return f"deepAll('ha-button, mwc-button, button').find(b => textOf(b) === {json.dumps(text)} && visible(b))"


def icon_button(label: str) -> str:
    """JavaScript finding the visible icon button labelled ``label`` (Close, Menu)."""
    return (
        "deepAll('ha-icon-button').find(b => visible(b) && "
        f"(b.label ?? b.getAttribute('aria-label')) === {json.dumps(label)})"
    )


def row_control(name: str, selector: str) -> str:
    """JavaScript finding the control matching ``selector`` in the row ``name``."""
    return f"controlOf({json.dumps(name)}, {json.dumps(selector)})"


async def clickable_point(
    page: Page, finder: str, within_s: float = STEP_TIMEOUT_S
) -> Point:
    """Where to click the element ``finder`` finds, once it is still and on top."""
    point: dict[str, float] = await page.wait_for(
        in_page(
            f"const element = {finder}; if (!element) return null;"
            "element.scrollIntoView({block: 'center'});"
            "const before = element.getBoundingClientRect(); await frame();"
            "const box = element.getBoundingClientRect();"
            "if (!box.width || !box.height) return null;"
            "if (box.x !== before.x || box.y !== before.y) return null;"
            "const x = box.x + box.width / 2, y = box.y + box.height / 2;"
            "const hit = deepHit(x, y);"
            "if (!hit || !(within(hit, element) || within(element, hit))) return null;"
            "return {x, y};"
        ),
        within_s=within_s,
        what=f"a still, uncovered element {finder}",
        every_s=WALK_EVERY_S,
    )
    return Point(point["x"], point["y"])


async def click(page: Page, finder: str, within_s: float = STEP_TIMEOUT_S) -> None:
    """A real mouse click on the element ``finder`` finds."""
    point = await clickable_point(page, finder, within_s)
    await page.click_at(point.x, point.y)


async def type_into(
    page: Page, selector: str, text: str, within_s: float = STEP_TIMEOUT_S
) -> None:
    """Focus the first visible input matching ``selector`` and type as a keyboard does."""
    await page.wait_for(
        in_page(
            f"const input = deepAll({json.dumps(selector)}).find(visible);"
            "if (!input) return false; input.focus();"
            "return document.activeElement !== document.body;"
        ),
        within_s=within_s,
        what=f"an input {selector}",
    )
    await page.send("Input.insertText", text=text)
    await page.wait_for(
        in_page(
            f"return deepAll({json.dumps(selector)}).some(i => i.value === {json.dumps(text)});"
        ),
        within_s=within_s,
        what=f"the text typed into {selector}",
    )


async def fill_in_login(page: Page, username: str, password: str) -> None:
    """Type the user name and password into Home Assistant's login page."""
    await page.wait_for("location.pathname === '/auth/authorize'", LOAD_TIMEOUT_S)
    await type_into(page, "input[name=username]", username, LOAD_TIMEOUT_S)
    await type_into(page, "input[name=password]", password)


async def send_login(page: Page) -> None:
    """Click *Log in* until the login page is left, as a person clicks again.

    On a loaded machine the first click can land before the form listens;
    the login page then just stays. A refused login is an error at once.
    """
    for _attempt in range(LOGIN_ATTEMPTS):
        await click(page, button("Log in"))
        try:
            await page.wait_for(
                "location.pathname !== '/auth/authorize'",
                STEP_TIMEOUT_S,
                what="leaving the login page",
            )
        except PageWaitError:
            refused = await page.evaluate(
                in_page(
                    "return deepAll('ha-alert').filter(visible).map(textOf).join(' ');"
                )
            )
            if refused:
                raise PageWaitError(f"the login was refused: {refused}") from None
        else:
            return
    raise PageWaitError(f"still on the login page after {LOGIN_ATTEMPTS} clicks")


async def log_in(page: Page, username: str, password: str) -> None:
    """Sign in on Home Assistant's login page; wait until the frontend is connected."""
    await fill_in_login(page, username, password)
    await send_login(page)
    await wait_until_connected(page)


async def open_in_app(page: Page, path: str) -> None:
    """Go to ``path`` inside the running frontend, as its own links do.

    A page load would start the frontend (and its sign-in) again. The
    frontend may rewrite the address (``.../add?domain=`` opens a dialog
    over the dashboard): callers wait for what they expect to see.
    """
    await page.evaluate(
        f"history.pushState(null, '', {json.dumps(path)});"
        "window.dispatchEvent(new CustomEvent('location-changed'));"
    )


async def wait_until_connected(page: Page) -> None:
    """Wait until the frontend holds the states of Home Assistant's entities."""
    try:
        await page.wait_for(
            "location.pathname !== '/auth/authorize' && Object.keys("
            "document.querySelector('home-assistant')?.hass?.states ?? {}).length > 0",
            LOAD_TIMEOUT_S,
        )
    except PageWaitError as error:
        raise PageWaitError(f"the frontend did not connect: {error}") from error


async def wait_for_labels(
    page: Page, names: tuple[str, ...], within_s: float = LOAD_TIMEOUT_S
) -> None:
    """Wait until every label of ``names`` is on the page."""
    finders = " && ".join(f"!!{row_label(name)}" for name in names)
    await page.wait_for(
        in_page(f"return {finders};"),
        within_s,
        what=f"the labels {names}",
        every_s=WALK_EVERY_S,
    )


SETTLED_JS = """
const settled = () => {
  const onScreen = (element) => {
    const box = element.getBoundingClientRect();
    return visible(element) && box.bottom > 0 && box.top < innerHeight;
  };
  const spinning = deepAll('ha-spinner, ha-circular-progress, md-circular-progress')
    .some(onScreen);
  // What the viewport shows; an ha-icon without an icon is an empty slot.
  const drawn = deepAll('ha-state-icon, ha-icon')
    .filter(icon => onScreen(icon) && (icon.localName === 'ha-state-icon' || icon.icon))
    .every(icon => deepAll('path', icon.shadowRoot ?? icon).some(path => path.getAttribute('d')));
  const loaded = deepAll('img').filter(onScreen).every(image => image.complete);
  return !spinning && drawn && loaded;
};
"""


async def wait_until_settled(page: Page, within_s: float = STEP_TIMEOUT_S) -> None:
    """Wait until the page is drawn: no spinner, every icon and image in place.

    Checked on two frames in a row, so a card that is still arriving counts.
    """
    await page.wait_for(
        in_page(
            f"{SETTLED_JS} if (!settled()) return false; await frame(); return settled();"
        ),
        within_s,
        what="a page without spinners and with its icons drawn",
        every_s=WALK_EVERY_S,
    )


async def wait_until_gone(
    page: Page, name: str, within_s: float = STEP_TIMEOUT_S
) -> None:
    """Wait until the label ``name`` (a dialog's title) has left the page."""
    await page.wait_for(
        in_page(f"return !{row_label(name)};"), within_s, what=f"{name!r} gone"
    )


async def entity_state(page: Page, entity_id: str) -> Any:
    """The state the frontend's connection holds for one entity."""
    return await page.evaluate(
        "document.querySelector('home-assistant')?.hass?.states"
        f"[{json.dumps(entity_id)}]?.state"
    )


async def wait_for_state(
    page: Page, entity_id: str, state: str, within_s: float = STEP_TIMEOUT_S
) -> None:
    """Wait until the frontend shows ``entity_id`` in ``state``."""
    await page.wait_for(
        "document.querySelector('home-assistant')?.hass?.states"
        f"[{json.dumps(entity_id)}]?.state === {json.dumps(state)}",
        within_s,
    )


async def device_of(
    session: aiohttp.ClientSession, url: str, token: str, entity_id: str
) -> str:
    """The device registry id of an entity's device, from Home Assistant's API."""
    async with session.post(
        f"{url}/api/template",
        headers={"Authorization": f"Bearer {token}"},
        json={"template": f"{{{{ device_id({entity_id!r}) }}}}"},
    ) as answer:
        answer.raise_for_status()
        device_id = (await answer.text()).strip()
    if not device_id or device_id == "None":
        raise LookupError(f"{entity_id} belongs to no device")
    return device_id
