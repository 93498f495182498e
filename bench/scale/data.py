"""Many Rakuten shops for the scale-out benchmark and test: fake-mall shops, their mall accounts
and their inquiries (the fake mall's own world functions; fixed credentials per shop)."""
from sync import accounts
from sync.fake_mall.world import add_inquiry

FIRST_SHOP = 500001


def shop_values(n: int) -> list[dict]:
    """Credentials of shops 1…n (fake-mall side and `accounts.add` side)."""
    return [{"shop_id": FIRST_SHOP + i, "service_secret": f"SP{FIRST_SHOP + i}_scaleSecret",
             "license_key": f"SL{FIRST_SHOP + i}_scaleLicense"} for i in range(n)]


def add_shops(state, n: int) -> list[int]:
    """n Rakuten shops in the fake mall (call under state.lock); returns their shop ids."""
    for values in shop_values(n):
        state.add_shop(**values)
    return [values["shop_id"] for values in shop_values(n)]


def add_accounts(n: int, shop_code: str = "default") -> list:
    """The n shops as mall accounts of one mallbridge shop (flushed; the caller commits)."""
    return [accounts.add("rakuten", shop_code, {"rakuten_shop_id": str(v["shop_id"]),
                                                 "service_secret": v["service_secret"],
                                                 "license_key": v["license_key"]}) for v in shop_values(n)]


def fill(state, shop_ids: list[int], per_shop: int, days: float = 20.0) -> list[str]:
    """`per_shop` customer inquiries in each shop, spread over the last `days` days (call under
    state.lock); returns the inquiry numbers."""
    numbers = []
    for shop_id in shop_ids:
        for i in range(per_shop):
            inquiry = add_inquiry(state, {"shop_id": shop_id, "days_ago": days * (per_shop - i) / per_shop,
                                          "user_name": f"顧客 {shop_id}-{i}", "item_name": "有機緑茶 100g",
                                          "message": f"有機緑茶 100g の在庫はありますか？（{shop_id}-{i}）"})
            numbers.append(inquiry["inquiryNumber"])
    return numbers
