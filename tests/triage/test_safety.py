"""Every hard-case rule of taxonomy.md, each with a positive and a negative example."""

from __future__ import annotations

import pytest

from triage.labels import Category, Urgency
from triage.safety import assess

RED_CASES = [
    # first-person wish to die with a means / a time / a farewell
    ("我站在楼顶上，真的不想活了", "手段"),
    ("药已经买好了，今晚就结束", "手段"),
    ("紫砂吧 遗书都写好了", "告别"),
    ("不想活了，今晚就去", "时间"),
    ("wo bu xiang huo le jin wan jiu zou 安眠药吃了一整瓶", "手段"),
    # a bystander report gets the urgency of the danger
    ("我同学刚发消息说她现在在天台上想跳下去", "意图"),
    # violence happening now
    ("我爸喝醉了正在打我妈和我，救命", "暴力"),
    ("有人拿着刀在我家门口说要砍死我们", "暴力"),
    # sexual assault within 72 h; sextortion
    ("昨晚补课老师摸我下面，我好害怕", "性侵害"),
    ("他说不给钱就把我的裸照发到班级群", "威胁"),
    # missing / confined / young child alone / medical
    ("我五岁的女儿在商场走丢了，找了半小时", "走失"),
    ("我被后妈锁在房间里两天了没饭吃", "被关"),
    ("邻居家三岁的孩子一个人锁在车里，车窗都起雾了", "幼童独处"),
    ("我弟弟吃了一整瓶药现在叫不醒", "急症"),
]


@pytest.mark.parametrize(("text", "signal"), RED_CASES)
def test_red_flags_raise_the_floor_to_red(text: str, signal: str) -> None:
    result = assess(text)
    assert result.floor is Urgency.RED, result
    assert any(s.startswith(signal) for s in result.signals), result.signals


@pytest.mark.parametrize(
    "text",
    [
        "笑死我了哈哈哈",  # jokes and hyperbole
        "今天体育课累死了",
        "这局杀疯了",
        "作业多到想死哈哈哈",
        "想死你了宝贝",
        "我没有想自杀，只是问问心理热线",  # negation
        "我不会自杀的，放心",
        "新闻里说有个初中生跳楼自杀了",  # news and reported speech
        "电视剧里那个后妈把孩子锁在房间里",
        "游戏里我被对面打爆了",
        "如果有人正在打孩子，邻居应该怎么办？",  # hypothetical / policy
        "小时候我爸经常把我关在柜子里",  # past, no present danger → not red
        "我感冒了，药已经买好了",  # a means alone is not a plan
    ],
)
def test_hard_negatives_do_not_raise_to_red(text: str) -> None:
    assert assess(text).floor is not Urgency.RED, assess(text)


def test_time_words_decide_red_versus_orange() -> None:
    assert assess("我不想活了，现在就想去死").floor is Urgency.RED
    assert assess("以前好几次想过不想活了").floor is Urgency.ORANGE
    assert assess("我爸正在打我").floor is Urgency.RED
    assert assess("我爸经常打我").floor is not Urgency.RED


def test_hyperbole_with_real_distress_is_not_raised_to_orange() -> None:
    # the brief's convention: "作业多到想死，真的好烦好累，每天都哭" is yellow/mental_health (the model's call)
    assert assess("作业多到想死，真的好烦好累，每天都哭").floor is Urgency.BLUE


def test_wish_to_die_without_a_plan_is_at_least_orange() -> None:
    result = assess("我不想活了")
    assert result.floor is Urgency.ORANGE and result.category is Category.SUICIDE_SELFHARM
    assert assess("我真的好累，不是想死的那种").floor is Urgency.BLUE


def test_negation_is_shown_to_operators() -> None:
    result = assess("我没有想自杀，只是问问")
    assert result.floor is Urgency.BLUE
    assert any(s.startswith("否定") for s in result.signals)


def test_slang_traditional_and_pinyin_are_understood() -> None:
    assert assess("鼠鼠我啊真的想鼠了").floor.rank >= Urgency.ORANGE.rank
    assert assess("我不想活了，藥已經買好了").floor is Urgency.RED  # traditional
    assert assess("bu xiang huo le").floor.rank >= Urgency.ORANGE.rank
    assert assess("I want to die, pills are ready 💊 tonight 今晚").floor is Urgency.RED


def test_red_flag_buried_in_a_long_message_is_found() -> None:
    filler = "今天天气还不错，中午吃了面条，下午上了数学课和英语课，老师讲得有点快。" * 40
    text = filler + "其实我已经把安眠药攒好了，今晚就结束吧。" + filler
    assert len(text) > 2000
    assert assess(text).floor is Urgency.RED


# --------------------------------------------------------------- precision rules (each with a positive example)
@pytest.mark.parametrize(
    ("red", "not_red"),
    [
        # "现在" in a story about the past is "these days", not "now"
        ("我现在就站在楼顶，不想活了", "我女儿以前割过腕现在还在吃药，最近又说活着没意思"),
        ("我爸现在正在打我", "我记得七岁第一次被打，现在伤疤还在，那时候经常挨打"),
        # a last message or a will speaks for itself; one written long ago does not
        ("这是我写给这个世界的最后一条消息", "我以前写过遗书，后来撕了，现在好多了"),
        ("永别了，晚安", "毕业了，和同学说再见有点舍不得"),
        # sextortion is a threat about intimate images, not any photo that was posted
        ("他说不给钱就把我的裸照发出去", "被打的视频被他们发到抖音上了，好几千人看过"),
        # farewells without the word "die": a bare goodbye, falling silent, giving the game account away
        ("bye了大家 以后别找我了", "bye了大家，明天见"),
        ("没事。就是来说一声再见。", "我们下周搬家了，就是来说一声再见，谢谢老师"),
        ("写完这段我就不会再说话了。谢谢你们听我讲过那么多。", "我生气了，再也不会跟你说话了"),
        ("游戏号送人了 皮肤全给我弟了 最后一天", "游戏号送人了，我要高考了，以后也玩不了了"),
        # a sudden collapse now, not one last term
        ("刚才突然出冷汗然后晕过去了", "上次体育课突然晕倒了，后来查是低血糖"),
        # a grandchild not home and searched for everywhere, not one found at a friend's
        ("孙女放学没回来，村里都找遍了", "女儿放学没回来，原来去同学家了，到处找了一圈"),
        # a child shut in a car, in English; a toy left in one is not
        ("a kid locked in car, 三十多度", "the kid left his toy in the car"),
        # a child left for days with the food gone; not one whose grandmother cooks
        ("妈妈出去好几天了 家里的饭都吃完了 我好饿", "爸妈出差好几天了，奶奶天天给我做饭，就是零食吃完了好馋"),
        # someone collapsed who does not answer; not a boy ignoring a call to dinner
        ("爷爷在厨房摔倒了不动了 叫他也不答应", "叫他吃饭也不答应，他在打游戏"),
        # a child on a chain now; not a dog
        ("父亲用铁链把他拴在床腿上，现在还拴着", "我家狗拴在院子里"),
        # signs of abuse on a toddler while the carer insists on leaving; not a case already handled
        (
            "儿科急诊：一岁半幼儿多处咬痕及陈旧性瘀斑，家长要求立即离院",
            "上个月接诊的幼儿多处骨折，已经由警方和社工安置，孩子现在安全",
        ),
        # a child swept away now; not the near miss of last summer
        ("孩子过桥的时候被冲走了", "去年夏天弟弟差点被河水冲走，幸好被救上来了"),
        # a baby for sale tonight (English); not the news
        ("found a post selling a baby girl, hand over tonight", "新闻里说有人在网上 selling a baby，被抓了"),
        # explosives brought to school tomorrow; not a chemistry lesson
        ("他说明天带炸药到学校", "明天化学课老师要讲炸药的历史"),
        # locked in a workshop, and a fistful of pills, in pinyin; not going to work or a big bowl of noodles
        ("wo bei suo zai chang li, lao ban bu rang zou", "wo bu xiang qu chang li da gong"),
        ("wo gang chi le yi da ba yao", "wo gang chi le yi da wan mian"),
        # a stranger photographing a child, still across the road; "对面" in a game is the other team
        ("有陌生人一直在学校门口拍我，现在他还站在马路对面", "被对面打野杀了三次，气死"),
        ("今天有个不认识的阿姨要带我去找妈妈，她还在校门口", "去年有不认识的叔叔要带我去买糖，我跑了"),
        # a chained child now; not a case told at a supervision meeting
        ("父亲用铁链把她拴在院子里，现在还拴着", "督导会我准备讲一个案例：某村一名9岁女童被父亲用铁链拴在院子里"),
        # said she was at a friend's and never arrived; not one found at the internet café
        ("孙女说去同学家写作业，同学家说她根本没来", "她说去同学家玩，原来是去网吧了，找到了"),
        # not breathing (traditional characters); not out of breath after a race
        ("爺爺不喘氣了 怎麼辦", "跑完八百米累得喘不过气"),
        # thanks, "no need to reply", the cat given away; not a cat boarded for a holiday
        ("謝謝你們之前陪我聊天 以後不用再回我了 貓我已經託給同學了", "我家猫托给邻居照顾了，我们去旅游"),
        # a car going elsewhere and a driver who will not stop; not a detour explained
        ("現在車開的方向不是我家，我跟他說停車他不理", "司机说前面堵车，绕路走，方向不对但他解释了"),
        # "the last message" with an ordinary reason is a goodnight
        ("这是最后一条消息了，明天见不到我了", "最后一条消息了 我妈要收手机了 明天见"),
        # bleeding now; not a graze the school nurse has dressed
        ("流了好多血止不住", "今天体育课摔了一跤 流了好多血 校医给包好了 不疼了"),
        # lost now; not lost once at three
        ("我女儿走丢了", "妈妈说我三岁的时候在菜市场走丢过"),
        # locked in a car boot; not a boot full of shopping
        ("救命 后备箱 好黑", "车的后备箱装满了年货"),
        # children left for a week with the food gone and a sister ill; not ones a grandmother looks after
        (
            "爸妈出去打工了 把我和妹妹放在家 现在一个多星期了 米也没了 妹妹发烧了",
            "爸妈出去打工了，奶奶照顾我们，妹妹发烧了吃了药好多了",
        ),
        # "放点血" as a threat; not giving blood
        ("他们说明天放学在桥洞底下等我，不带钱就给你放点血", "献血车来学校了，我去放了点血哈哈"),
        # a baby crying for hours with nobody home; not one being soothed
        ("楼下那家的婴儿哭了一整个下午了 声音越来越弱 好象屋里一直没人", "楼下婴儿哭了一下午，他妈妈一直在哄"),
        # lost on the way home, in pinyin
        ("wo zhao bu dao hui jia de lu le", "wo zhi dao hui jia de lu"),
        # a smell of gas with someone dizzy (pinyin), not a question about the pipes
        ("jia li mei qi wei hao zhong, wo tou hen yun", "我家煤气味有点重，是不是该找人来查一下管道"),
        # an unnamed photo is read as intimate; one the message says is a game clip is not
        ("他说不给钱就把我的照片发出去", "他说不给钱就把我打游戏的视频发出去，好丢人"),
        # a missing child, not a lost cat, and not one already found again
        ("我儿子在公园不见了，找了一个小时", "我家的猫走丢三天了，好想它"),
        ("有人抢孩子！！", "孩子在商场跑丢了五分钟，最后在玩具店找到了"),
        # a child who cannot find their parent, written in pinyin
        ("wo zhao bu dao ma ma le", "wo xiang ma ma le"),
        # "被人强迫了" on its own (characters or pinyin) is how children write rape; forced homework is not
        ("zuo wan bei ren qiang po le", "wo bei qiang po le xie zuo ye xie dao shi er dian"),
        ("昨晚我被人强迫了。", "昨晚被爸妈强迫了去补习，烦死"),
        # "晚安 永远" closing a message with a means is a farewell; "晚安，永远爱你们" is a goodnight
        ("刀片🔪准备好了 这次是认真的 晚安 永远", "刀片🔪准备好了，明天手工课要用。晚安，永远爱你们"),
        # locked in by someone else, not shutting oneself in
        ("我被后妈关在厕所里了出不去", "她知道后把自己关在屋里两天不说话"),
        # a medical emergency, not a panic attack described afterwards
        ("弟弟喘不上气了嘴唇发紫", "最近很容易紧张，心跳好快，喘不上气，去医院又查不出什么"),
        # violence now, not a question about the law
        ("我爸又在家暴我妈，现在还在砸东西", "父母打孩子到底违不违法？现在有反家暴法吗"),
        ("打了快一个钟头了那家的小孩都没声了", "邻居家以前经常打孩子，后来搬走了"),
        # slang for dying (寄了) is red with a farewell, not when it is about an exam
        ("我今晚就要寄了，谢谢这些年一直陪我聊天的你们", "期末马上就要寄了，谢谢老师的照顾"),
        # two farewells in a row, and a farewell thought of last week but meant for today
        ("以后哪里都不会去了，谢谢你这一年对我的照顾", "谢谢你们的陪伴，晚安"),
        ("上周就决定了，今天是最后一天", "上周就决定了，今天是暑假最后一天去游乐园"),
        ("wo mi lu le, zhe li hao hei", "wo xiang chi mi fan"),
        # an overdose taking effect; on a roof with nothing else said
        ("这回真要寄了 药效上来了", "感冒药药效过了，又开始流鼻涕"),
        ("hello? 有人吗 我在天台", "我在天台晒被子"),
        # a threat to come in and drag someone out, now ("rn")
        ("they r outside the gate rn，说我不出来就进来拖我", "他们说下次不出来就不带我玩了"),
        # shame after last night, said without naming it
        ("我觉得自己好脏 昨天晚上那个事 我洗了好几遍澡", "踢完球觉得自己好脏，回家洗了个澡"),
        # "现在很生气" is a feeling now, not violence now; "还在打" over the years is not "正在打"
        ("我爸现在正在打我，我好怕", "我爸打我一巴掌，就这一次，我现在很生他的气"),
        ("救命，他还在打我妈", "现在十五岁，我爸还在打，我妈还在装看不见"),
        # a TV series is fiction
        ("我被后妈关在地下室了", "这部剧的反派也太狠了，把女主关在地下室"),
        # a dream, a play, a prevention lesson, a plan made in advance, laughing
        ("有人拿刀在门口说要砍我", "昨晚做噩梦梦见有人拿刀追我，吓醒了"),
        ("昨天补课老师性侵了我", "我们老师今天讲了防性侵的课，讲得很好"),
        ("我儿子在商场走丢了", "孩子走丢了第一时间应该打110还是先广播？想提前做个预案"),
        ("弟弟喘不上气了嘴唇发紫", "他挠我痒痒，我笑到喘不上气"),
        # hyperbole does not cancel a plan; a bleeding tooth at the dentist is not an emergency
        ("累到想死，今晚就从楼顶跳下去", "作业多到想死，每天写到十二点，我已经哭了好几个晚上"),
        ("我妹流了好多血，叫不醒", "今天去医院拔牙，流了好多血，医生说正常"),
    ],
)
def test_precision_rules_keep_red_and_drop_false_red(red: str, not_red: str) -> None:
    assert assess(red).floor is Urgency.RED, assess(red)
    assert assess(not_red).floor is not Urgency.RED, assess(not_red)


# ------------------------------------------- false and missed reds found by cross-validation on the training split
@pytest.mark.parametrize(
    ("raised", "not_raised"),
    [
        # "到现在" is a duration ("up to now"), not "now"
        ("那几个人现在还在厕所里打我", "打我的那几个人到现在都没受处分，我还是很气"),
        # a trigger in quotation marks is a figure of speech ("被拐"去开会), not an abduction
        ("我妹妹在小区门口被人抱走了", "室友“被拐”去学生会搬桌子了，一下午没回宿舍哈哈"),
        # words said in anger and taken back are not a threat; a parent's "we took it as 气话" is not a retraction
        ("他刚才在群里说要砍死我，放学就来", "我在群里说了句要砍死他，是气话，根本没想真干"),
        # a prevention campaign is not intent
        ("我想自杀，真的撑不住了", "班会课要做防自杀宣传海报，求助电话写哪些"),
        # negation with 那种 in between
        ("好想死，什么都没意思", "心好累，不是那种想死的累，就是什么都不想做"),
        # more hyperbole: 难吃到想死
        ("我真的想死，每天都想", "食堂的饭难吃到想死，明天带面包"),
        # about to be beaten to death, not the exam-result hyperbole
        ("救救我，我要被打死了", "期中考砸了，回家要被打死了"),
        # a child tied to a chair now, not a memory
        ("托管班老师把我儿子绑在椅子上，我刚到门口看见", "小时候我爸把我绑在凳子上打过，现在我上大学了"),
        # a head count that comes up one short
        ("秋游集合的时候点名少了一个二年级的孩子，老师们正在找", "春游回来点名一个不少，大家都很开心"),
        # a wish to jump with words in between, on a roof; not a slide
        ("我现在坐在学校天台上，我想等下课铃响的时候跳下去", "我想从滑梯上跳下去玩，妈妈不让"),
        # an overdose written in English, not a daily pill
        ("i swallowed a whole box of pills just now 头好晕", "I took my allergy pills this morning"),
    ],
)
def test_cv_found_precision_rules(raised: str, not_raised: str) -> None:
    assert assess(raised).floor.rank >= Urgency.ORANGE.rank, assess(raised)
    assert assess(not_raised).floor.rank < assess(raised).floor.rank, (assess(raised), assess(not_raised))


def test_parent_who_once_took_it_for_words_in_anger_still_raises() -> None:
    assert assess("孩子说不想活了说了一年多，我们以前都当气话，现在看到他手上有伤").floor is not Urgency.BLUE


# ------------------------------------------- red messages that cross-validation graded orange or lower (session 9)
CV_MISSED_REDS = [
    # about to jump, said alone; not a rope, a dance or a pool
    ("我要跳了", "我要跳了，跳绳比赛开始"),
    # a cut wrist is an attempt, not a thought; in the past it is not now
    ("我割腕了", "我以前割腕了好几次，现在好多了"),
    # a prepared knife and a deeper cut
    ("今天不一样，我想割得深一点，刀已经拿好了", "菜刀已经磨好了，妈妈在切肉"),
    # countdown slang
    ("紫砂倒计时：3小时", "期末倒计时：3天"),
    # an overdose in pinyin
    ("wo yi jing chi le hen duo yao, hao nan shou", "wo yi jing chi le fan le"),
    # charcoal bought and the gaps taped
    ("活着好累 炭已经买回来了 门缝窗缝都用胶带贴好了", "周末烧烤，木炭买好了，大家带点肉"),
    # giving things away, then "that's it"
    ("已经把手机里的照片都删了 零花钱也全转给我妈了 就这样吧🌙", "压岁钱都转给我妈了，她帮我存着"),
    # a self-harm act half an hour ago, with the means named
    ("一名高一男生半小时前在宿舍楼道用美工刀划手臂", "美术课上用美工刀划纸板，做了个房子"),
    # a fight set up with weapons, half an hour from now
    ("放学后去职校门口约架有人带了甩棍和刀还有半小时就放学了", "上个月他们约架被学校处分了"),
    # someone being stabbed now
    ("同桌在被圆规扎 现在", "同桌借我的圆规画圆"),
    # strangling, a threat to cripple, a knife threat
    ("有人被跳绳勒脖子！！", "跳绳比赛我们班拿了第一"),
    ("车棚 晚自习后 要废了我", "这次月考要废了，数学好难"),
    # a child followed, in pinyin
    ("yi ge shu shu yi zhi gen zhe wo", "yi ge shu shu gei wo mai le tang"),
    # locked in, in pinyin
    ("lao shi ba wo guan zai qi cai shi li le", "lao shi ba wo de zuo ye shou le"),
    # a head injury with a clouded mind
    ("学生被打后头部出血、意识模糊", "他说话意识流，听不懂"),
    # a whole night away
    ("我儿子跟他爸吵架后跑出去了，已经一整夜没回来", "我儿子一整夜没睡，在复习考试"),
    # a plan to take the sleeping pills tomorrow morning
    ("床头柜里有一瓶安眠药，我打算明天早上考试前就把它吃完", "奶奶每天睡前吃一片安眠药，医生开的"),
    # molestation today by a tutor who comes again tomorrow
    ("娃儿今天回来说补课那个老师摸她屁股还亲她嘴", "娃儿今天回来说补课那个老师摸她头夸她"),
    # rape three days ago, a later "一直" does not make it old
    ("三天前我被人强奸了，我没敢跟任何人说，一直在洗澡", "小时候被猥亵过，今天又想起来了，很难受"),
    # a video recording used for blackmail
    ("有人用我跟他视频的录屏勒索我 说半小时内不转钱就发给我爸妈", "录屏软件哪个好用"),
]


def test_now_is_not_strong_in_now_i_am() -> None:
    # "我现在就是一个…人质" is a figure of speech about the exam week, not violence now
    text = "我在厕所背公式差点被锁在里面。今天终于考完了，我现在就是一个被考试绑架了、刚刚被释放的人质"
    assert assess(text).floor is not Urgency.RED


# ------------------------------------------- accidents and emergencies, a debt hold, children alone (after v3's look)
EMERGENCIES_AND_HOLDS = [
    # a fire with children still inside; a fire everyone got out of, last year
    ("网吧半夜起火了，里面好像还有好几个初中生没出来", "去年我家着火了，还好人都出来了"),
    # a swallowed button battery; a battery question
    ("我弟刚才吞了一颗纽扣电池", "纽扣电池能扔进垃圾桶吗"),
    # gas leaking now; a gas-safety lesson
    ("我家煤气泄漏了好大的味道", "新闻说冬天要防煤气中毒"),
    # a fall from a balcony; a fall in a game
    ("我弟从二楼阳台上摔下来了", "吃鸡的时候被车撞死了哈哈"),
    # choking with a blue face; stuck on a level
    ("宝宝吃果冻噎住了脸都紫了", "我卡住了这关过不去"),
    # a past accident is not now
    ("放学路上同学被货车撞了，躺在地上不动", "上次出车祸的时候我腿断了"),
    # held until a "debt" is paid, messaging in secret; a finished story
    (
        "結果是傳銷，他們收走了我的手機，天天上課洗腦，說要把「欠」的錢還完才能走",
        "去年被传销骗去，说钱还完才能走，后来警察救了我",
    ),
    ("他们收走了我的身份证不让我们离开", "老师说作业写完才能走"),
    # several children alone for days, the youngest four
    ("三个孙子在家里没人管最大的才十一岁最小的四岁已经好几天了", "家里没人管，最小的妹妹都上初中了"),
]


def test_a_missing_child_in_english() -> None:
    assert assess("help my kid is gone 超市").floor is Urgency.RED
    assert assess("ahhh my son is missing 在公园 please help").floor is Urgency.RED
    assert assess("my kid is gone to school already, 终于清净了").floor is not Urgency.RED


def test_a_roof_errand_is_not_an_attempt() -> None:
    assert assess("我现在在天台晒被子").floor is not Urgency.RED
    assert assess("我现在在天台，不想活了").floor is Urgency.RED


FIRE_WITH_PEOPLE_INSIDE = [
    ("着火了 爸妈不在家 我跟妹妹出不去", "昨天食堂着火了，大家都跑出去了"),
    ("厨房着火了，门打不开", "厨房的门打不开了，好烦"),
    ("楼道冒烟了我们逃不出去", "消防演习的时候楼道冒烟了，我们按路线跑出去了"),
]


DEBT_HOLD_ALONE_UNWELL_NEVER_BEFORE = [
    # held until a debt is worked off, identity card kept
    ("领班说我欠了他们六千，干满三个月才能走，身份证也被他们“保管”了", "作业干完了才能走，老师说的"),
    # a child alone, days without food or with a high fever; a memory, or a mild fever that is better
    ("家访发现其独自在家。孩子称已两天没吃东西，目前高烧", "爸妈出差了我一个人在家，今天有点发烧，吃了药好多了"),
    ("我一个人在家，两天没吃饭了", "小时候我一个人在家，好几天没吃饭，现在想起来还难过"),
    # "never before" is new, not past
    ("突然喘不上气 手脚都发麻 以前从来没这样过 现在趴在沙发上发抖", "以前喘不上气过一次，医生说没事"),
]


GAPS_READ_FROM_V6 = [
    # followed, in pinyin; tracking a parcel
    ("bei ren gen zong le, bang wo", "wo zai gen zong kuai di"),
    # a knife waved with "不活了", in one unpunctuated line whose 天天 is about gaming
    ("孙子天天抱着手机打游戏叫他吃饭他就拿水果刀比划说再管他他就不活了", "妈妈拿水果刀削苹果"),
    # a daily wish with a means ready is still a plan; a settled past is not
    ("我每天都想死，刀片已经准备好了", "以前想死的时候买过安眠药，现在好了"),
]


def test_laughing_is_not_giving_up() -> None:
    assert assess("笑得我不活了哈哈").floor is not Urgency.RED


@pytest.mark.parametrize(
    ("red", "not_red"),
    [
        *CV_MISSED_REDS,
        *EMERGENCIES_AND_HOLDS,
        *FIRE_WITH_PEOPLE_INSIDE,
        *DEBT_HOLD_ALONE_UNWELL_NEVER_BEFORE,
        *GAPS_READ_FROM_V6,
    ],
)
def test_red_and_its_negative(red: str, not_red: str) -> None:
    """Each pair: a red message the safety layer must raise to red, and a look-alike it must not."""
    assert assess(red).floor is Urgency.RED, assess(red)
    assert assess(not_red).floor is not Urgency.RED, assess(not_red)
