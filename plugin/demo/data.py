"""Word lists for `mallbridge demo seed`: a tea shop in Shizuoka and its customers (all fictitious).

E-mail domains are the example.* names JPRS and IANA reserve, so no demo address can reach a
real person; only the Rakuten relay domain is real, because agents must recognise its shape.
"""

SHOP = {
    "name": "お茶の山田園 本店",
    "phone": "0548-22-1234",
    "email": "info@yamadaen.example.jp",
}
RAKUTEN_SHOP_ID = "312345"  # six-digit shop number that starts every Rakuten order number
YAHOO_STORE = "yamadaen"  # store account that starts every Yahoo! order id
RAKUTEN_RELAY = "pc.fw.rakuten.ne.jp"
README_EMAIL = "hanako.sato@example.jp"  # the sample lookup in README.md's quick start
ANCHOR = (2026, 11, 20)  # fixed "today" of the data set: same order numbers on every run

# (kanji, kana, romaji)
SURNAMES = [
    ("佐藤", "サトウ", "sato"), ("鈴木", "スズキ", "suzuki"), ("高橋", "タカハシ", "takahashi"),
    ("田中", "タナカ", "tanaka"), ("伊藤", "イトウ", "ito"), ("渡辺", "ワタナベ", "watanabe"),
    ("山本", "ヤマモト", "yamamoto"), ("中村", "ナカムラ", "nakamura"), ("小林", "コバヤシ", "kobayashi"),
    ("加藤", "カトウ", "kato"), ("吉田", "ヨシダ", "yoshida"), ("山田", "ヤマダ", "yamada"),
    ("佐々木", "ササキ", "sasaki"), ("松本", "マツモト", "matsumoto"), ("井上", "イノウエ", "inoue"),
    ("木村", "キムラ", "kimura"), ("林", "ハヤシ", "hayashi"), ("斎藤", "サイトウ", "saito"),
    ("清水", "シミズ", "shimizu"), ("山口", "ヤマグチ", "yamaguchi"), ("森", "モリ", "mori"),
    ("池田", "イケダ", "ikeda"), ("橋本", "ハシモト", "hashimoto"), ("阿部", "アベ", "abe"),
    ("石川", "イシカワ", "ishikawa"), ("前田", "マエダ", "maeda"), ("藤田", "フジタ", "fujita"),
    ("小川", "オガワ", "ogawa"), ("岡田", "オカダ", "okada"), ("長谷川", "ハセガワ", "hasegawa"),
]
GIVEN_NAMES = [
    ("太郎", "タロウ", "taro"), ("花子", "ハナコ", "hanako"), ("健一", "ケンイチ", "kenichi"),
    ("陽子", "ヨウコ", "yoko"), ("大輔", "ダイスケ", "daisuke"), ("美咲", "ミサキ", "misaki"),
    ("翔太", "ショウタ", "shota"), ("由美", "ユミ", "yumi"), ("直樹", "ナオキ", "naoki"),
    ("恵子", "ケイコ", "keiko"), ("拓也", "タクヤ", "takuya"), ("真由美", "マユミ", "mayumi"),
    ("誠", "マコト", "makoto"), ("さくら", "サクラ", "sakura"), ("浩二", "コウジ", "koji"),
    ("愛", "アイ", "ai"), ("隆", "タカシ", "takashi"), ("千尋", "チヒロ", "chihiro"),
    ("博", "ヒロシ", "hiroshi"), ("理恵", "リエ", "rie"), ("和也", "カズヤ", "kazuya"),
    ("優子", "ユウコ", "yuko"), ("修", "オサム", "osamu"), ("智子", "トモコ", "tomoko"),
]
# (prefecture + city, postal code prefix, landline area code)
PLACES = [
    ("東京都世田谷区桜新町", "154-00", "03"), ("東京都杉並区阿佐谷南", "166-00", "03"),
    ("神奈川県横浜市青葉区美しが丘", "225-00", "045"), ("大阪府大阪市北区梅田", "530-00", "06"),
    ("愛知県名古屋市千種区覚王山通", "464-08", "052"), ("静岡県島田市本通", "427-00", "0547"),
    ("静岡県牧之原市静波", "421-04", "0548"), ("福岡県福岡市中央区大名", "810-00", "092"),
    ("北海道札幌市中央区南一条西", "060-00", "011"), ("京都府京都市左京区下鴨本町", "606-08", "075"),
    ("宮城県仙台市青葉区一番町", "980-08", "022"), ("広島県広島市中区紙屋町", "730-00", "082"),
    ("埼玉県さいたま市浦和区高砂", "330-00", "048"), ("千葉県船橋市本町", "273-00", "047"),
    ("兵庫県神戸市中央区北野町", "650-00", "078"), ("沖縄県那覇市久茂地", "900-00", "098"),
]
BUILDINGS = ["", "", "", " コーポ桜 203", " グリーンハイツ 101", " メゾン富士 405", " 山田ビル 3F"]
EMAIL_DOMAINS = ["example.jp", "example.co.jp", "example.ne.jp", "mail.example.com", "example.or.jp"]
MOBILE_PREFIXES = ["090", "080", "070"]

# (sku, name, price in yen incl. tax)
ITEMS = [
    ("tea-sencha-100", "深蒸し掛川茶 100g", 1080), ("tea-sencha-200", "深蒸し掛川茶 200g", 1980),
    ("tea-gyokuro-50", "特上玉露 50g", 2160), ("tea-matcha-30", "宇治抹茶 30g 缶入り", 1620),
    ("tea-hojicha-150", "香ばし焙じ茶 150g", 864), ("tea-genmai-200", "抹茶入り玄米茶 200g", 756),
    ("tea-organic-100", "有機緑茶 100g", 1296), ("tea-bag-50", "水出し緑茶ティーバッグ 5g×50", 1500),
    ("tea-wakocha-80", "和紅茶 静岡べにふうき 80g", 1400), ("sweet-yokan", "抹茶羊羹 5本入り", 1850),
    ("sweet-daifuku", "お茶大福 8個入り", 1680), ("sweet-cookie", "ほうじ茶クッキー 12枚", 980),
    ("gift-set-a", "贈答用 煎茶詰め合わせ（桐箱）", 5400), ("gift-set-b", "季節の銘茶と和菓子セット", 3780),
    ("ware-kyusu", "常滑焼 急須 360ml", 4620), ("ware-yunomi", "湯呑み 2客セット", 2750),
]
SHIPPING_FEE = 550
FREE_SHIPPING_FROM = 5400

# Status words as each channel shows them (Rakuten RMS and Yahoo! store admin use their own).
STATUSES = {
    "own": [("新規受付", 1), ("入金待ち", 1), ("発送準備中", 1), ("発送済み", 8), ("キャンセル", 1)],
    "rakuten": [("注文確認待ち", 1), ("楽天処理中", 1), ("発送待ち", 1), ("発送済", 8), ("キャンセル確定", 1)],
    "yahoo": [("新規注文", 1), ("処理中", 1), ("出荷済み", 8), ("キャンセル", 1)],
}
SHIPPED = {"発送済み", "発送済", "出荷済み"}

NOTES = [
    "", "", "", "", "", "", "ギフト利用が多い。熨斗は「御歳暮」指定。", "定期便（毎月10日）ご利用中。",
    "電話連絡は平日18時以降を希望。", "急須の破損で交換対応済み（2025年）。", "カフェイン控えめの商品を希望。",
]
# Stored text that must come out escaped on every page (issue 3, "Bad input").
TRICKY = [
    {"name": '山口 "ジョー" 丈二', "name_kana": "ヤマグチ ジョウジ", "note": '<script>alert("xss")</script> 配送先メモ'},
    {"name": "O'Neil 美香", "name_kana": "オニール ミカ", "note": "住所に ' と \" を含む。<b>太字にならないこと</b>"},
    {"name": "石川 <i>五右衛門</i>", "name_kana": "イシカワ ゴエモン", "note": "'; DROP TABLE member; -- （SQL ではなく文字列として表示）"},
]
