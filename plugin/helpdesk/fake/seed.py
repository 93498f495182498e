"""The fake helpdesk's demo token and address books (the demo seed points mallbridge at them)."""
DEMO_TOKEN = "demo-helpdesk-token"
DEMO_BOOK = 1
DEMO_BOOKS = ((DEMO_BOOK, "デモ店舗のお客様", [1]), (2, "卸売の取引先", []))


def seed(st):
    """The demo token and the two demo address books (empty)."""
    st.add_token(DEMO_TOKEN)
    for book_id, name, boxes in DEMO_BOOKS:
        st.add_book(book_id, name, boxes)
