"""A small multilingual corpus whose quality is learnable from content, for the annotator tests.

Each document mixes sentences from two pools in its language: explanatory (educational) sentences and
spam/boilerplate sentences. Its true quality is the share of educational sentences on a 0-5 scale; two
simulated judges add their own noise, as LLM judges do.
"""

from __future__ import annotations

import random

EDU = {
    "en": [
        "Photosynthesis turns light energy into chemical energy stored in glucose.",
        "The French Revolution began in 1789 and reshaped European politics.",
        "A prime number has exactly two divisors: one and itself.",
        "Water boils at a lower temperature at high altitude because air pressure is lower.",
        "DNA carries genetic information in sequences of four bases.",
        "The Pythagorean theorem relates the sides of a right triangle.",
        "Earthquakes happen when tectonic plates release built-up stress.",
        "Vaccines train the immune system to recognise a pathogen.",
        "Supply and demand together determine the market price of a good.",
        "The moon's gravity causes the ocean tides on Earth.",
    ],
    "ko": [
        "광합성은 빛 에너지를 포도당에 저장된 화학 에너지로 바꾼다.",
        "프랑스 혁명은 1789년에 시작되어 유럽 정치를 바꾸었다.",
        "소수는 1과 자기 자신만을 약수로 가지는 수이다.",
        "높은 곳에서는 기압이 낮아서 물이 더 낮은 온도에서 끓는다.",
        "DNA는 네 가지 염기의 순서로 유전 정보를 담고 있다.",
        "피타고라스 정리는 직각삼각형의 세 변 사이의 관계를 나타낸다.",
        "지진은 판이 쌓인 응력을 갑자기 방출할 때 일어난다.",
        "백신은 면역 체계가 병원체를 알아보도록 훈련시킨다.",
        "수요와 공급이 함께 상품의 시장 가격을 결정한다.",
        "달의 중력 때문에 지구의 바다에 밀물과 썰물이 생긴다.",
    ],
    "ja": [
        "光合成は光のエネルギーをブドウ糖の化学エネルギーに変える。",
        "フランス革命は1789年に始まり、ヨーロッパの政治を変えた。",
        "素数とは1とその数自身だけを約数に持つ数である。",
        "標高の高い場所では気圧が低いため、水は低い温度で沸騰する。",
        "DNAは四種類の塩基の並びで遺伝情報を運ぶ。",
        "ピタゴラスの定理は直角三角形の辺の関係を表す。",
        "地震はプレートにたまったひずみが解放されるときに起こる。",
        "ワクチンは免疫系に病原体を見分けるように教える。",
        "需要と供給が商品の市場価格を決める。",
        "月の引力によって地球の海に潮の満ち引きが生じる。",
    ],
    "zh": [
        "光合作用把光能转化为储存在葡萄糖中的化学能。",
        "法国大革命始于1789年，改变了欧洲的政治格局。",
        "质数是只有一和它本身两个因数的数。",
        "在高海拔地区气压较低，所以水在较低的温度下沸腾。",
        "DNA用四种碱基的排列顺序储存遗传信息。",
        "勾股定理描述了直角三角形三条边之间的关系。",
        "地震发生在板块释放积累的应力的时候。",
        "疫苗训练免疫系统识别病原体。",
        "供给和需求共同决定商品的市场价格。",
        "月球的引力使地球的海洋产生潮汐。",
    ],
}

SPAM = {
    "en": [
        "CLICK HERE to win a free iPhone now!!!",
        "Best cheap pills online, discount 90% today only.",
        "Subscribe and share, like this post for more!!!",
        "Hot singles in your area are waiting for you.",
        "Buy followers fast, 100% guaranteed, limited offer.",
        "Copyright all rights reserved. Home | About | Contact | Login",
        "lol this is so random xD follow me",
        "Casino bonus!!! Deposit now and get free spins.",
        "Cookies policy: accept all cookies to continue browsing.",
        "Limited sale!!! Cheap shoes, cheap bags, free shipping.",
    ],
    "ko": [
        "지금 클릭하면 아이폰 무료 증정!!!",
        "최저가 할인 90% 오늘만 특가 세일!!",
        "구독과 좋아요 눌러주세요 감사합니다!!!",
        "카지노 보너스 지금 가입하면 무료 스핀 지급!!",
        "팔로워 빠르게 늘려드립니다 100% 보장.",
        "저작권 모든 권리 보유. 홈 | 소개 | 문의 | 로그인",
        "ㅋㅋㅋㅋ 대박 ㅋㅋ 나 팔로우 해줘",
        "대출 무직자 당일 승인 지금 바로 상담!!",
        "쿠키 정책: 계속 보려면 모든 쿠키를 허용하세요.",
        "한정 세일!!! 싼 신발, 싼 가방, 무료 배송.",
    ],
    "ja": [
        "今すぐクリックしてiPhoneを無料でゲット!!!",
        "激安セール90%オフ、本日限り!!",
        "チャンネル登録と高評価お願いします!!!",
        "カジノボーナス、今すぐ登録で無料スピン!!",
        "フォロワーを簡単に増やせます、100%保証。",
        "著作権所有。ホーム | 会社概要 | お問い合わせ | ログイン",
        "ｗｗｗｗ やばいｗｗ フォローしてね",
        "即日融資、審査なし、今すぐ申し込み!!",
        "クッキーポリシー：閲覧を続けるにはすべて許可してください。",
        "限定セール!!! 安い靴、安いバッグ、送料無料。",
    ],
    "zh": [
        "立即点击免费领取iPhone!!!",
        "超低价九折优惠，仅限今天!!",
        "请订阅点赞转发，谢谢大家!!!",
        "赌场奖金，现在注册送免费旋转!!",
        "快速涨粉，百分之百保证。",
        "版权所有。首页 | 关于 | 联系 | 登录",
        "哈哈哈哈 太好笑了 关注我",
        "无抵押贷款当天到账，马上咨询!!",
        "Cookie政策：继续浏览请接受所有Cookie。",
        "限时特卖!!! 便宜鞋子，便宜包包，包邮。",
    ],
}

LANGS = ("en", "ko", "ja", "zh")


def make_docs(n_per_lang: int, seed: int, prefix: str = "d") -> list[dict]:
    """Documents with id, lang, text, and their true quality ``quality`` in [0, 5]."""
    rng = random.Random(seed)
    docs = []
    for lang in LANGS:
        for i in range(n_per_lang):
            k = rng.randint(0, 4)
            sentences = rng.sample(EDU[lang], k) + rng.sample(SPAM[lang], 4 - k)
            rng.shuffle(sentences)
            sep = " " if lang in ("en", "ko") else ""
            docs.append({"id": f"{prefix}-{lang}-{i}", "lang": lang, "text": sep.join(sentences),
                         "quality": 5.0 * k / 4})
    return docs


def judge_rows(docs: list[dict], seed: int) -> list[dict]:
    """Label rows in the `curate judge` schema from two noisy simulated judges (one failed call each)."""
    rng = random.Random(seed)
    rows = []
    for judge, noise in (("judge-a", 0.5), ("judge-b", 0.8)):
        for j, d in enumerate(docs):
            failed = j == 0
            score = None if failed else float(min(5, max(0, round(d["quality"] + rng.gauss(0, noise)))))
            rows.append({"doc_id": d["id"], "lang": d["lang"], "text": d["text"], "judge": judge,
                         "model": f"{judge}-model", "score": score, "raw": "" if failed else str(score),
                         "error": "timeout" if failed else None, "latency_s": 0.1, "prompt_tokens": 100,
                         "completion_tokens": 5, "rubric": "educational", "prompt_language": "en"})
    return rows
