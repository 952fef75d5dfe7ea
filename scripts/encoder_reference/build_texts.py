"""Regenerates texts.json (the reference inputs) from literal strings.

Command (from the repository root):
    python3 scripts/encoder_reference/build_texts.py

The long texts follow a generation rule: "edge_long_en" is the lighthouse
paragraph below repeated 12 times joined by one space; "edge_long_mixed" is the
Russian+Chinese sentence pair repeated 30 times joined by one space.
"""
import json
import os
T = []
def add(id, lang, kind, text):
    T.append({"id": id, "lang": lang, "kind": kind, "text": text})

# The four reference passages (exact).
add("cat_en", "en", "passage", "The cat sits on the mat.")
add("cat_de", "de", "passage", "Die Katze sitzt auf der Matte.")
add("cat_zh", "zh", "passage", "猫坐在垫子上。")
add("cat_ko", "ko", "passage", "고양이가 매트 위에 앉아 있다.")

# English
add("en_q1", "en", "query", "how do I repair a leaking kitchen tap")
add("en_p1", "en", "passage", "Turn off the water supply before replacing the worn washer inside the tap.")
add("en_p2", "en", "passage", "Rain fell all night, and by morning the river had risen above the old stone bridge.")
# German
add("de_q1", "de", "query", "wann fährt der letzte Zug nach München")
add("de_p1", "de", "passage", "Die Bäckerei an der Ecke öffnet schon um sechs Uhr früh und verkauft warme Brötchen.")
# Spanish
add("es_q1", "es", "query", "¿cuál es la mejor época para visitar Patagonia?")
add("es_p1", "es", "passage", "El niño guardó las llaves en el cajón y salió corriendo hacia la playa.")
# French
add("fr_q1", "fr", "query", "où acheter du pain frais le dimanche")
add("fr_p1", "fr", "passage", "L'été dernier, nous avons campé près d'un lac où l'eau était étonnamment froide.")
# Vietnamese (precomposed, NFC)
add("vi_q1", "vi", "query", "thời tiết ở Hà Nội hôm nay thế nào")
add("vi_p1", "vi", "passage", "Người nông dân dậy sớm để tưới rau trước khi trời nắng gắt.")
# Turkish
add("tr_q1", "tr", "query", "İstanbul'da en iyi balık lokantası hangisi")
add("tr_p1", "tr", "passage", "Kışın dağ köyüne giden yol karla kapanır ve çocuklar okula gidemez.")
# Russian
add("ru_q1", "ru", "query", "как приготовить борщ без мяса")
add("ru_p1", "ru", "passage", "Вечером на вокзале было шумно: люди спешили на последнюю электричку.")
# Greek
add("el_q1", "el", "query", "πού βρίσκεται το πλησιέστερο φαρμακείο")
add("el_p1", "el", "passage", "Το καλοκαίρι οι ψαράδες βγαίνουν στη θάλασσα πριν ξημερώσει.")
# Arabic
add("ar_q1", "ar", "query", "ما هي عاصمة المغرب؟")
add("ar_p1", "ar", "passage", "تشرب جدتي الشاي بالنعناع كل مساء في الحديقة.")
# Hindi (Devanagari)
add("hi_q1", "hi", "query", "दिल्ली से आगरा कितनी दूर है")
add("hi_p1", "hi", "passage", "बारिश के बाद खेतों में हरियाली छा गई और किसान खुश हो गए।")
# Thai
add("th_q1", "th", "query", "ร้านกาแฟที่ใกล้ที่สุดอยู่ที่ไหน")
add("th_p1", "th", "passage", "เด็กๆ วิ่งเล่นในสวนสาธารณะจนถึงเวลาพระอาทิตย์ตก")
# Chinese simplified / traditional
add("zh_hans_q1", "zh", "query", "北京今天的空气质量怎么样")
add("zh_hans_p1", "zh", "passage", "图书馆的二楼有一间安静的阅览室，学生们常在那里复习功课。")
add("zh_hant_q1", "zh-Hant", "query", "臺北哪裡有好吃的牛肉麵")
add("zh_hant_p1", "zh-Hant", "passage", "颱風過後，街道上滿是被風吹斷的樹枝與落葉。")
# Korean
add("ko_q1", "ko", "query", "서울에서 부산까지 기차로 몇 시간 걸려요")
add("ko_p1", "ko", "passage", "할머니는 매년 가을마다 김치를 담그신다.")
# Japanese (kana + kanji)
add("ja_q1", "ja", "query", "東京駅から浅草までの行き方を教えてください")
add("ja_p1", "ja", "passage", "雨の日は、窓辺で本を読みながらゆっくりお茶を飲むのが好きです。")
add("ja_p2", "ja", "passage", "カタカナとひらがなと漢字が混ざった文章です。")
# Hebrew
add("he_q1", "he", "query", "מה השעה עכשיו בירושלים")
add("he_p1", "he", "passage", "הילדים בנו ארמון חול גדול על שפת הים.")

# Edge cases
add("edge_empty_query", "und", "query", "")
add("edge_empty_passage", "und", "passage", "")
add("edge_whitespace", "und", "passage", "   \n\t ")
add("edge_emoji_simple", "und", "passage", "I love pizza 🍕😀👍")
add("edge_emoji_zwj", "und", "passage", "Family: \U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466 and a technologist \U0001F469\U0001F3FD\u200D\U0001F4BB")
add("edge_emoji_flags", "und", "passage", "Flags: \U0001F1EB\U0001F1F7 \U0001F1E9\U0001F1EA \U0001F1EF\U0001F1F5 \U0001F1F0\U0001F1F7 \U0001F3F3\uFE0F\u200D\U0001F308")
add("edge_combining_e_acute", "fr", "passage", "Cafe\u0301 cre\u0300me bru\u0302le\u0301e")
add("edge_combining_vi", "vi", "passage", "Tie\u0302\u0301ng Vie\u0323\u0302t co\u0301 nhie\u0302\u0300u da\u0302\u0301u thanh")
add("edge_precomposed_e_acute", "fr", "passage", "Café crème brûlée")
add("edge_mixed_scripts", "mul", "passage", "Meeting with 田中さん at 3pm, затем обед в café «Αθήνα» — شكرا!")
add("edge_mixed_codeswitch", "mul", "query", "best 김치찌개 recipe ohne Schweinefleisch")
add("edge_digits", "en", "passage", "Order #4521 shipped on 2024-03-17 at 09:45, total $1,299.99 (3.5% off).")
add("edge_url", "en", "passage", "Docs at https://example.com/api/v2/users?id=42&sort=desc#section-3 or mail admin@example.org")
add("edge_code", "code", "passage", "fn main() { let v: Vec<u32> = (0..10).map(|x| x * x).collect(); println!(\"{:?}\", v); }")
add("edge_fullwidth", "ja", "passage", "ＡＢＣ　ｄｅｆ　１２３！？（テスト）")
add("edge_zwsp", "en", "passage", "zero\u200Bwidth\u200Bspace between words")
add("edge_nbsp_tabs", "en", "query", "non\u00A0breaking\u00A0space\tand\ttabs")
add("edge_upper", "en", "query", "WHAT IS THE CAPITAL OF FRANCE")
add("edge_punct_only", "und", "passage", "?!... --- ***")
add("edge_single_char", "zh", "query", "猫")
add("edge_ligature_accents", "mul", "passage", "ﬁnancial Œuvre straße ǅemal Ångström")
add("edge_arabic_digits", "ar", "passage", "الرقم ١٢٣٤٥ والسعر ٩٩٫٥")
add("edge_control_chars", "en", "passage", "line one\r\nline two\u0007bell\u00ADsoft hyphen")

# Very long text: generation rule = the paragraph below repeated 12 times,
# joined with a single space. Well over 512 tokens; tests truncation.
para = ("The old lighthouse keeper climbed the spiral stairs every evening, carrying a lantern and a notebook. "
        "He wrote down the colour of the sky, the direction of the wind and the names of the ships that passed. "
        "Over forty years the notebooks filled three shelves, and nobody ever asked to read them.")
add("edge_long_en", "en", "passage", " ".join([para] * 12))
para_mixed = "Долгий текст на русском языке повторяется много раз. 这是一段会被重复很多次的中文文本。"
add("edge_long_mixed", "mul", "query", " ".join([para_mixed] * 30))

ids = [t["id"] for t in T]
assert len(ids) == len(set(ids))
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "texts.json"), "w", encoding="utf-8") as f:
    json.dump(T, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(len(T), len({t['lang'] for t in T}))
