"""The safety layer: curated, tested patterns for red flags.

It reads every clause of a message (a 2,000-character message is scanned
whole: nothing is truncated) and returns a *floor* — the lowest urgency the
message may get — with the category that raised it and human-readable
signals. The combined rule (``triage.classifier``) lets this layer raise the
model's urgency, never lower it.

What raises the floor to red (taxonomy.md):
* a first-person (or reported) wish to die together with a means, a time word
  for now, a farewell, or an attempt under way;
* violence happening now or imminently threatened; a minor locked in;
* sexual assault now or within the last days, or sextortion with a threat;
* a child missing, taken or followed now; a young child alone in danger;
* a medical emergency (unconscious, overdose, heavy bleeding).
A wish to die without a plan raises the floor to orange.

What keeps a clause from counting (the signal still names it, for operators):
negation right before the trigger ("我没有想自杀"), news, fiction and game talk
("新闻里说", "游戏里被杀"), hypotheticals ("如果有人…"), and jokes or
hyperbole ("笑死", "累死了", "作业多到想死哈哈") for intent-only triggers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from triage.labels import Category, Urgency
from triage.text import prepare

_CLAUSE_SPLIT = re.compile(r"[。！？!?；;\n]+|(?<=[，,])\s*(?=但|可是|不过|然后|结果)")


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


# ---------------------------------------------------------------- triggers
SUICIDE_INTENT = _rx(
    r"不想活",
    r"(?<![笑累饿困热冷])(?:就|我|他|她|也)不活了",
    r"活不下去",
    r"活着(?:没|没有)(?:意思|意义)",
    r"想(?:要)?死(?!你|我了|他|她)",
    r"(?<![笑累热饿困烦气吓冷忙渴])想去死",
    r"去死吧?算了",
    r"自杀",
    r"轻生",
    r"结束(?:自己的?)?(?:生命|一切)",
    r"结束这一切",
    r"(?:今晚|今天晚上|今夜|今天|马上|明天)就?(?:结束|解脱)(?:了|吧)?(?:$|[，,。 ])",
    r"了结自己",
    r"不如死了",
    r"死了算了",
    r"想(?:跳楼|跳河|跳桥|跳江|上吊|割腕|跳下去)",
    r"想(?:等|在|从)(?:(?!滑梯|泳池|跳台|蹦床|水里).){0,12}跳下去(?!玩)",  # "我想等下课铃响的时候跳下去"
    r"(?:就|要)去(?:跳河|跳楼|跳江|跳桥|跳海|死)",
    r"紫砂",
    r"想鼠",
    r"鼠鼠(?:我)?不想活",
    r"(?:wo ?)?bu ?xiang ?huo",
    r"\bbxhl\b",
    r"xiang ?si ?le",
    r"\bzi ?sha\b",
    r"kill myself",
    r"want to die",
    r"suicid",
    r"离开这个世界",
    r"消失(?:掉)?就好了",
)
# Slang for dying that is also slang for failing an exam: a red flag only with a farewell.
SLANG_DEATH = _rx(r"(?:马上|就要|今晚|今天|明天)就?要?寄了", r"要去当星星了")
NOT_DYING = _rx(
    r"考", r"期末", r"期中", r"作业", r"游戏", r"比赛", r"排位", r"成绩", r"分数", r"手机", r"电脑", r"钱包"
)
SELF_HARM = _rx(
    r"割腕",
    r"划(?:伤)?(?:自己|手腕|胳膊|手臂)",
    r"自残",
    r"用刀片",
    r"割(?:自己|手)",
    r"(?:想|要)(?:再)?割得?(?:深|更深|狠)",
    r"(?:美工刀|刀片|圆规|小刀)(?:在|往)?.{0,3}划",
)
# "我要跳了" said alone: about to jump. Not a rope, a dance or a pool.
ABOUT_TO_JUMP = re.compile(r"(?:^|我)(?:要|准备|这就|马上就?)跳(?:下去)?了(?![\u4e00-\u9fff])")
NOT_A_JUMP = _rx(r"跳(?:绳|舞|高|远|伞|水|床|操|台|马|房子)", r"蹦极", r"游泳", r"泳池", r"比赛", r"体育")
MEANS = _rx(
    r"安眠药",
    r"药效(?:上来|发作)",
    r"药(?:已经|也|都)?(?:买|攒|准备)好",
    r"攒了(?:很多|一瓶|好多)?药",
    r"农药",
    r"百草枯",
    r"老鼠药",
    r"刀片",
    r"(?:刀|绳子|药|炭)(?:已经|也|都)?(?:拿|买|找|准备|备|磨)好了",
    r"(?:剂)?量(?:已经|都)?(?:够|攒够)了",
    r"(?<!烧烤)(?<!木)炭(?!火锅|烤|笔)",
    r"(?:去|就|要)跳(?:河|楼|江|桥|海)",
    r"绳子",
    r"烧炭",
    r"天台",
    r"楼顶",
    r"顶楼",
    r"(?:河|江|湖|海)边",
    r"大桥",
    r"铁轨",
    r"一整瓶",
    r"吃了(?:一瓶|好多|很多|一把|一大把|半瓶)",
    r"💊",
    r"🔪",
    r"(?:拿|举|握)(?:着|起)?(?:水果刀|菜刀|美工刀|剪刀|小刀)(?!削|切|剪)",
    r"(?:水果刀|菜刀|美工刀|剪刀|小刀|刀)(?:比划|对着自己|架在|抵着)",
    r"\bpills\b",
)
# A bare goodbye with nothing else to say ("没事。就是来说一声再见。"): a farewell, and a strong one.
BARE_GOODBYE = r"(?:就是|只是|就)(?:来|想)(?:跟(?:你|你们|大家))?说(?:一)?声再见"
FAREWELL = _rx(
    r"遗书",
    r"遗言",
    r"永别",
    r"再见了?(?:这个世界|大家|各位|妈妈|爸爸)",
    r"(?:bye|byebye|拜拜)了?(?:这个世界|大家|各位|所有人)",
    BARE_GOODBYE,
    # a voice that says it will fall silent
    r"(?:就|再也)?不会再(?:说话|出现|打扰(?:你们|大家)?|回(?:消息|复))了",
    r"最后一(?:次|条)(?:消息|说话|跟你|联系|冒泡|打扰)",
    r"写给这个世界",
    r"(?:今天|今晚)(?:就)?是(?:我的?)?最后一(?:天|晚)",
    r"忌日",
    r"谢谢.{0,12}(?:这些年|一直以来|陪伴|陪我|照顾|愿意|听我(?:讲|说))",
    r"不用(?:再)?(?:点我的名|等我|给我留|管我|找我|回我)",
    r"(?:猫|狗|宠物|仓鼠|鱼)(?:我)?(?:已经)?(?:托|送|交)给",
    r"以后(?:哪里|哪儿)?都不会(?:去|在)了",
    r"下辈子",
    r"来世",
    r"别找我了",
    r"后事",
    r"🪦",
    r"⚰",
    r"不会.{0,8}被救回来",
    # Giving things away, then "that's it": a farewell in deeds.
    r"(?:零花钱|压岁钱|存的钱|东西|手办|游戏账号|装备|宠物)(?:也|都)?全?(?:转|送|留)给",
    r"(?:游戏账?号|账号|皮肤|装备|手办)(?:也|都)?全?(?:送人了|(?:送|转|留)?给(?:了)?(?:我|他|她)?的?(?:弟|妹|哥|姐|表|同学|朋友|室友))",
    r"照片(?:也|都)?(?:全)?删了",
    r"就这样吧[。.!！~…\s🌙]*$",
    # "晚安 永远" closing a message; "晚安，永远爱你们" is a goodnight.
    r"晚安[\s,，.。~…]*永远(?![\u4e00-\u9fffA-Za-z])",
)
# Means that speak for themselves once a time or farewell is near ("药已经买好了，今晚…").
STRONG_MEANS = _rx(
    r"安眠药",
    r"药(?:已经|也|都)?(?:买|攒|准备)好",
    r"攒了(?:很多|一瓶|好多)?药",
    r"农药",
    r"百草枯",
    r"老鼠药",
    r"烧炭",
    r"(?<!烧烤)炭(?:已经|也|都)?(?:买|拿|准备)(?:好|回来)了",
)
# Saying when the pills will be taken: with a strong means, that is a plan.
PLAN_TO_TAKE = re.compile(r"(?:打算|准备|决定|要|想).{0,12}(?:吃完|全吃了|都吃了|全部吃|一口气吃|吞下去|吞了)")
ATTEMPT = _rx(
    r"药效(?:上来|发作)",
    r"我(?:现在)?(?:正)?在(?:天台|楼顶|顶楼)(?:上|边上)?(?:了|呢)?$",
    r"已经(?:吃|吞)了",
    r"(?:刚|刚刚|刚才)(?:吃|吞)了",
    r"正在割",
    r"割(?:了)?(?:腕|手腕|动脉)了",
    r"(?:门缝|窗缝|门窗).{0,6}(?:胶带|封|堵)",
    r"血止不住",
    r"站在(?:天台|楼顶|顶楼|桥上|窗台|栏杆外)",
    # on a roof or a bridge now, unless for an everyday errand ("现在在天台晒被子")
    r"(?:已经|现在)在(?:天台|楼顶|顶楼|桥上|河边|江边)(?!.{0,3}(?:晒|晾|收|浇|种|乘凉|看星星|看风景|拍照|钓鱼|散步|跑步|吃|玩|打球|上课|开会))",
    r"(?:swallowed|took|have taken|ate) (?:a |the )?(?:whole|all|a bunch of|a lot of|too many|so many|[0-9]+|handful)"
    r".{0,24}pills",
    r"overdos(?:e|ed|ing)",
)
NOW = _rx(
    r"现在就(?!是)",
    r"(?<!到)现在",  # "到现在都没…" is a duration ("up to now"), not "now"
    r"正在",
    r"刚才",
    r"刚刚",
    r"今晚",
    r"今天晚上",
    r"今夜",
    r"马上(?!就?要?(?:中考|高考|考试|期末|开学|放假|毕业|月考|期中))",
    r"立刻",
    r"(?<![了过])一会儿?(?=就|要|再|他|她)",
    r"待会",
    r"等会",
    r"此刻",
    r"这会",
    r"快来",
    r"赶紧",
    r"还在",
    r"救命",
    r"救救",
    r"\bsos\b",
    r"\bhelp\b",
    r"\brn\b",
    r"right now",
    r"倒计时",
    r"还有(?:半|[一两三四五六七八九十0-9]+)个?多?(?:小时|分钟)",
    r"(?:半|[一两三1-3])个?多?(?:小时|钟头)(?:之)?前",
    r"[0-9一二三四五六七八九十几]+分钟(?:之)?前",
)
PAST = _rx(
    r"经常",
    r"以前(?!(?:从来|从)?(?:没|不)(?:有)?(?:这样|这么|过))",  # "以前从来没这样过" means "never before": new, not past
    r"好几次",
    r"一直(?!(?:在)?(?:跟|盯|尾随))",  # "一直跟着我" is being followed now
    r"总是",
    r"老是",
    r"小时候",
    r"去年",
    r"上个月",
    r"那时候",
    r"曾经",
    r"之前",
    r"每次",
    r"常常",
    r"每天",
    r"天天",
    r"有时候?",
    r"从小",
    r"上周",
    r"上次",
    r"那次",
    r"前几天",
    r"(?:几|十几|[0-9一二两三四五六七八九十]+)年前",
    r"年代",
    r"差点",
    r"一(?:不高兴|生气|喝酒|喝醉|发火|考不好)就",
    r"习惯",
    r"长期",
    r"有一次",
    r"(?:受到|遭受|经历|遇到)过",
    r"寻亲",
)
VIOLENCE = _rx(
    r"(?:打|揍|踢|掐|抽|砍|捅|勒)(?:我|他|她|孩子|弟弟|妹妹|小孩|儿子|女儿)",
    r"掐(?:着)?(?:我的?)?脖子",
    r"拿(?:着)?(?:刀(?!片)|菜刀|棍子|皮带|衣架|砖头)",
    r"打了(?:快|好|有)?(?:一|两|半)?个?(?:钟头|小时|多小时)",
    r"(?:要|说要|扬言)(?:杀|砍|弄死|打死)",
    r"往死里打",
    r"打得(?:流血|出血|骨折|晕|站不起来)",
    r"(?:头|鼻子|嘴)(?:破了|流血)",
    r"围(?:着|住)(?:我|他|她)打",
    r"(?<!还)(?:在|正在)(?:打|殴打)",
    r"(?:在|正在|又在|又)家暴",
    r"(?:在|正在)被.{0,4}(?:打|扎|捅|踢|揍|砍|勒)",
    r"约架",
    r"带(?:了|着)(?:甩棍|砍刀|刀|棍子)",
    r"家暴(?:我|他|她|孩子|弟弟|妹妹)",
)
# A weapon or a threat to kill is imminent danger by itself (no time word needed).
SEVERE_VIOLENCE = _rx(
    r"拿(?:着)?(?:刀(?!片)|菜刀|剪刀|斧头)",
    r"(?:要|说要|扬言|威胁要?)(?:杀|砍|弄死|打死|捅)",
    r"掐(?:着)?(?:我的?)?脖子",
    r"往死里打",
    r"(?:不出来|不开门)就?(?:进来)?(?:拖|打|砍|弄)",
    r"(?<!回家)(?<!回去)(?:要|快)被(?:打|掐|勒|砍)死了",
    r"勒(?:着)?(?:我的?|他的?|她的?)?脖子",
    r"要废了(?:我|你|他|她)",
    r"(?:就|要)用刀(?:划|砍|捅|扎)",  # "我要被打死了" (not "考砸了回家要被打死了")
    r"给你放(?:点)?血",
    r"(?:倒进|放进|下到|掺进|加到)(?:食堂|他们|他|她|老师|同学)的?(?:汤|饭|水杯|水壶|汤桶|锅|杯子)",  # poison
    # an attack on a school threatened: a gun, explosives, "shoot everyone"
    r"(?<![水玩具])带(?:枪|炸药|炸弹|汽油|爆炸物)(?:来|去|到)",
    r"(?:爆炸物|炸药|炸弹).{0,12}(?:带到|带去|拿到|放到|放在)(?:学校|班|教室|食堂)",
    r"shoot (?:everyone|everybody|up|you all|them all)",
)
# Signs of abuse on a small child in a clinic, while the carer wants to take the child away: red.
MALTREATMENT = _rx(
    r"新旧(?:不一|不等)?的?(?:淤青|瘀斑|瘀青|伤痕?|骨折)", r"陈旧性(?:瘀斑|骨折|损伤)", r"多处(?:烫伤|咬痕|骨折)"
)
CARER_LEAVING = _rx(r"(?:要|催着要?|坚持要|要求|急着|非要)(?:立即|马上)?(?:走|离院|离开|出院|带(?:孩子)?(?:走|离))")
CONFINED = _rx(
    r"(?:被|把我)(?:关|锁|反锁)(?:在|起来|了)",
    r"(?<!自己)(?<!整天)(?<!天天)(?<!老是)(?<!总是)关在(?:房间|屋|地下室|厕所|笼子|柜子|小黑屋)",
    r"(?<!自己)锁在(?:房间|屋|家里|地下室|厕所|车里)",
    r"不让我(?:出门|出去|离开|吃饭)",
    r"绑在(?:椅子|床|柱子|树|凳子|桌子)上",
    r"(?:关|锁|塞|放)(?:在|进)(?:汽车|车的?)?后备箱",
    r"救命.{0,6}后备箱",
    r"门(?:从|在)外面(?:被)?(?:反)?锁",
    r"(?:铁链|链子|锁链|绳子?)(?:把.{0,8})?(?:拴|锁|绑)(?:在|着|住)",
    r"拴在(?:床|桌|椅|柱|树|门|屋|家|里屋|院)",
)
# Held until a "debt" is paid (pyramid schemes, traffickers): ongoing by its nature, so
# habitual words (天天, 每天) do not make it past; a finished story (去年, 以前, 后来) does.
HELD = _rx(
    r"(?:还完|还清|交(?:够|完)?钱|给钱|赎金)(?:了)?才(?:能|让|放)(?:我|我们)?走",
    r"(?:干满|做满|干够|做够)(?:了)?.{0,4}(?:个月|天|年|周|单).{0,4}(?:才|就)(?:能|让|放)(?:我|我们)?走",
    r"身份证(?:也)?(?:被|给)(?:他们|老板|领班|对方|中介)?.{0,3}(?:保管|扣|收|拿走)",
    r"收(?:走了|走|了)(?:我的?|我们的?)?(?:手机|身份证).{0,12}(?:不让|不准|不许)(?:我|我们)?(?:走|离开|出去)",
)
# A child alone (any age) who is ill or has gone without food for days: red when the two are near.
ALONE = _rx(
    r"(?:独自|一个人|自己)(?:在家|在屋里?|在出租屋|住)",
    r"家里(?:没有?|一个)大人(?:都没有)?",
    r"(?:妈妈|爸爸|爸妈|大人|家长)(?:出去|出门|走了|不在家|没回来|没回家)(?:了)?(?:好几|几|两|三|[2-9])天",
    r"(?:把我|把我们|把我和.{1,3})(?:放|留|扔)在家.{0,16}(?:一个多?|好几个|两个|几个)(?:星期|礼拜|月)",
)
UNWELL = _rx(
    r"(?:两|三|几|好几|[2-9])天(?:都)?没(?:吃|吃东西|吃饭|饭吃)",
    r"高烧",
    r"昏(?:倒|过去)",
    r"起不来",
    r"家里(?:的)?(?:饭|吃的|米|东西)(?:都|也)?(?:吃完了|没了)",
    r"(?:米|面|吃的|钱)(?:也|都)?(?:没了|吃完了|花光了)",
    r"发烧了",
)
HABITUAL = re.compile(r"天天|每天|一直|总是|老是|常常|经常")
SEXUAL = _rx(
    r"强奸",
    r"性侵",
    r"猥亵",
    r"侵犯了?我",
    r"摸我(?:的)?(?:胸|下面|隐私|屁股|身体|大腿)?",
    r"摸(?:过|了)?(?:我|她|他|孩子|女儿|儿子)的?(?:胸|下面|隐私|私处|屁股|大腿|腰)",
    r"脱(?:我的?)?衣服",
    r"让我脱",
    r"逼我.{0,4}(?:脱|摸|亲|看|拍|发生关系)",
    r"裸照",
    r"私密照",
    r"不雅(?:照|视频)",
    r"发生关系",
    # "被人强迫了。" said on its own is how children often write rape; "被强迫了写作业" is not (a word follows).
    r"被(?:人|他|男的|那个人|那个男的)?强迫了(?![\u4e00-\u9fffA-Za-z])",
    r"(?:觉得|感觉)自己(?:好|很|特别|真)?脏",
    r"开房",
)
SEXTORTION = _rx(
    r"(?:裸照|私密照|裸聊|不雅照|不雅视频|隐私照|裸体).{0,12}(?:发出去|曝光|公开|传到|发到|发给)",
    r"(?:不给钱|不听话|不然|否则|要不然?|不答应|不.{1,4}就).{0,10}(?:裸照|私密照|照片|视频).{0,6}(?:发|曝光|公开)",
    r"(?:威胁|就把|要把)(?:我的?)?(?:照片|视频).{0,8}(?:发出去|曝光|公开)",
    r"(?:录屏|裸聊|视频|照片|截图).{0,12}勒索",
)
# A plain "照片/视频" threat is read as sextortion (children rarely name the images), unless the
# message itself says what the images are and it is harmless: a game clip, a dance, an ugly selfie.
NOT_INTIMATE = re.compile(r"(?:游戏|打游戏|跳舞|唱歌|丑|搞笑|表情包|黑历史|吃饭|小时候|作业|考试)的?(?:照片|视频)")
INTIMATE = re.compile(r"裸|私密|不雅|隐私|洗澡|换衣服|没穿|脱")
RECENT = _rx(
    r"昨(?:天|晚)",
    r"前天",
    r"这两天",
    r"今(?:天|晚)",
    r"刚才",
    r"刚刚",
    r"现在",
    r"正在",
    r"在门外",
    r"(?:约|叫)我.{0,6}(?:今晚|今天|明天|出去|见面)",
)
MISSING = _rx(
    r"走丢(?!过)",  # "三岁时走丢过" is a memory
    r"走失(?!过)",
    r"(?:孩子|女儿|儿子|弟弟|妹妹|娃|宝宝|小孩|闺女|孙女|孙子|外孙女?|学生).{0,6}(?:不见了|找不到了?|没回家|还没回来|失联|联系不上|丢了)",
    r"(?:放学|出门|出去)(?:后)?(?:就|一直|到现在)?没回来.{0,24}(?:找遍|到处找|都找了)",
    r"(?<![“\"'「])被(?:人|陌生人)?(?:抱走|拐|带走|拉上车|抢走|掳走)(?![”\"'」])",  # not “被拐”去开会
    r"拐走",
    r"我迷路了",
    r"抢(?:孩子|小孩|娃)",
    r"找不到(?:我的?)?(?:妈妈|爸爸|家长|大人|奶奶|爷爷|外婆|姥姥)",
    r"找不到回家的路",
    r"(?:和|跟)(?:妈妈|爸爸|家长|大人|奶奶|爷爷)走散",
    r"(?:son|daughter|kid|child|boy|girl|baby) (?:is|went|has gone) missing",
    r"(?:son|daughter|kid|child|baby) is gone(?! (?:to|out|home|for|with|back))",
    r"lost my (?:son|daughter|kid|child|baby)",
    r"(?:can'?t|cannot) find my (?:son|daughter|kid|child|baby|mom|mum|dad)",
    r"有人(?:一直)?(?:跟着我|跟踪我|尾随)",
    r"被(?:人|陌生人|一个男的|一个人|坏人)?(?:跟踪|尾随)(?:了)?",
    r"陌生人.{0,8}(?:跟着|跟踪|拉我|抱走|拽)",
    r"(?:一夜|一整夜|整夜|一宿|一晚上|一整晚|整晚|到现在)(?:都)?没回(?:家|来)",
    r"(?:叔叔|男的|陌生人|大人|阿姨).{0,4}(?:一直)?跟着我",
    r"(?:点名|清点|数人|集合).{0,10}少了(?:一个|两个|个)",
    r"少了一个(?:学生|孩子|小孩|小朋友|娃)",
    r"selling (?:a |the |her |his |my )?(?:baby|child|kid|girl|boy|daughter|son)",
    # said she was at a friend's, and the friend says she never came
    r"(?:说|说是)去.{0,8}(?:同学|朋友|奶奶|姥姥|外婆|亲戚)家.{0,16}(?:根本)?没(?:来|去|到)过?",
)
# A stranger who photographs a child, asks where she lives or tries to take her along, still about.
STRANGER = _rx(
    r"(?:陌生人|不认识的(?:人|叔叔|阿姨|男的|女的)).{0,12}(?:问我住(?:哪|在哪)|要带我|带我去|拉我|跟着我|拍我)",
    # a car taking the child somewhere else, and a driver who will not stop
    r"(?:司机|车).{0,20}(?:方向不是(?:去|回)?我家|不是(?:去|回)?我家的方向|不是回家的路|开(?:到|去)了?(?:郊区|荒郊|野外|山上))",
    r"(?:让|叫|跟)(?:他|司机)(?:说)?停车.{0,4}(?:他)?不(?:理|停)",
)
YOUNG_CHILD_ALONE = _rx(
    r"(?:[一二两三四五六七1-7]岁|[0-9一二两三四五六七八九十]+个月|婴儿|宝宝|幼儿).{0,10}(?:一个人|独自|单独|自己).{0,6}(?:在家|在车|锁)",
    r"(?:宝宝|婴儿|小孩|孩子|幼儿).{0,6}(?:锁在车|关在车|留在车|落在车)",
    r"(?:[一二两三四五六七1-7]岁).{0,8}(?:没人管|没有人管|饿了.{0,3}天|一个人在)",
    r"(?:kid|child|baby|toddler|boy|girl)s? .{0,12}(?:locked|left|alone|stuck) in (?:a |the )?(?:hot )?car",
    r"(?:婴儿|宝宝|小孩|孩子).{0,6}哭了(?:一整个|整个|一个|一)?(?:下午|上午|晚上|夜|半天|几个小时|好几个小时).{0,24}(?:没人|没有人|没大人|越来越弱)",
    # several children with nobody, the youngest a small child
    r"(?:没人管|没有大人|没大人).{0,20}(?:最小的?|小的)(?:才|只有)?[一二两三四五六1-6]岁",
)
MEDICAL = _rx(
    r"昏迷",
    r"叫不醒",
    r"没(?:有)?呼吸",
    r"不省人事",
    r"口吐白沫",
    r"抽搐",
    r"大出血",
    r"流了(?:很多|好多)血",
    r"血止不住",
    r"喘不上气",
    r"不喘气了",
    r"(?:孩子|小孩|娃|宝宝).{0,4}没(?:了)?(?:声|动静)",
    r"掉(?:进|到|在)?.{0,3}(?:水沟|河|井|水里|湖|坑|冰窟窿)里?了",
    r"爬不上来",
    r"意识(?:模糊|不清)",
    r"头(?:部)?.{0,2}(?:出血|流血)",
    r"出血(?:较多|很多|不止)",
    r"(?:突然|一下子).{0,12}晕(?:过去|倒)了",
    # someone collapsed who does not answer: not a child ignoring a call to dinner
    r"(?:摔倒|晕倒|倒在地上|倒下|躺在地上).{0,12}(?:不动了|叫(?:他|她)?(?:也|都)?不(?:答应|应|醒))",
)
# Accidents and emergencies a child meets: danger to life now, whatever the category.
ACCIDENT = _rx(
    r"(?:煤气|燃气|天然气)(?:泄漏|泄露|中毒)",
    r"一氧化碳中毒",
    r"触电",
    r"(?:出|发生)?车祸",
    r"被(?:车|汽车|货车|电动车|摩托车)(?:撞|碾|压)",
    r"(?:从|在).{0,8}(?:楼|窗户?|阳台|楼梯|高处|架子|树|墙)上?.{0,3}(?:摔|掉|跌|坠)(?:了)?下(?:来|去)",
    r"坠楼",
    r"(?:吞|吃|咽)(?:了|下|进)?(?:去)?(?:一[颗个枚]|两[颗个枚]|几[颗个枚])?(?:纽扣电池|电池|硬币|磁铁|磁珠|珠子|别针|钉子|洗衣液|消毒液|84)",
    r"(?:卡|噎)(?:住|在)(?:了)?(?:喉咙|嗓子|气管)(?!.{0,4}(?:鱼刺|刺))",
    r"噎住了?.{0,6}(?:喘不|说不出话|脸(?:都)?(?:紫|青)了)",
    r"(?:溺水|淹水|被水冲走|掉进水里)",
    r"(?:孩子|小孩|娃|弟弟|妹妹|同学|儿子|女儿|学生|人).{0,12}被(?:水|洪水|河水|大水|浪)?冲走",
    r"被(?:狗|野狗|大狗)(?:咬)",
)
# A smell of gas is red when someone near it is dizzy, sick or will not wake.
GAS_SMELL = _rx(r"(?:煤气|燃气|天然气)味")
GAS_SYMPTOM = _rx(r"头(?:很|好|特别|有点)?晕", r"恶心", r"想吐", r"睡不醒", r"叫不醒", r"晕过去")
# A fire is red when someone is still inside it.
FIRE = _rx(r"起火", r"着火", r"失火", r"火灾", r"烧起来了", r"冒(?:黑)?烟")
TRAPPED = _rx(
    r"被困",
    r"困(?:在|住)",
    r"没(?:有)?(?:跑|逃)?出(?:来|去)",
    r"出不(?:来|去)",
    r"(?:跑|逃|走)不(?:出|掉|了)",
    r"还在(?:里面|屋里|家里|楼上)",
    r"在里面",
    r"(?:门|窗)(?:打|推)不开",
)

# ---------------------------------------------------------------- what does not count
NEGATION_BEFORE = re.compile(
    r"(?:没有|没|不是|不会|并不|从没|从来没|从不|不再|别|不要|并没有|也没)(?:那种|这种)?(?:想|要|打算|会)?(?:过)?$"
)
REPORTED = _rx(
    r"新闻",
    r"报道",
    r"热搜",
    r"电视剧",
    r"电影",
    r"纪录片",
    r"刑侦剧",
    r"综艺",
    r"都在(?:转|传)",
    r"是真的吗",
    r"谣言",
    r"作文",
    r"真假",
    r"是不是骗",
    r"小说",
    r"剧里",
    r"(?:这部|那部|部)剧",
    r"剧(?:的|中)",
    r"反派",
    r"(?:心理|安全|法治|班会|生命教育|防性侵|防拐)课",
    r"讲座",
    r"话剧",
    r"排练",
    r"演一个",
    r"梦见",
    r"梦到",
    r"剧情",
    r"做(?:了个?)?噩梦",
    r"防(?:性侵|拐|走失|走丢|溺水|欺凌|霸凌|自杀|自伤)",
    r"女主",
    r"男主",
    r"动漫",
    r"视频里",
    r"短视频",
    r"听说有(?:个|人)",
    r"网上说",
    r"文章",
    r"游戏里",
    # "对面" is the other team in a game, not the other side of the road
    r"(?<!马路)(?<!街)(?<!路)(?<!家)(?<!楼)对面(?!楼|那栋|邻居|的邻居|马路|街|人家|那家|住)",
    r"打野",
    r"团战",
    r"五杀",
    r"上分",
    r"五排",
    r"副本",
    r"歌词",
    r"案例",  # a case told at a training session or supervision meeting
    r"课件",
)
HYPOTHETICAL = _rx(
    r"如果",
    r"假如",
    r"假设",
    r"万一",
    r"怎么预防",
    r"怎么判",
    r"判几年",
    r"犯什么罪",
    r"法律规定",
    r"违不违法",
    r"(?:违法|犯法|合法)吗",
    r"算不算",
    r"第一时间应该",
    r"预案",
)
JOKE = _rx(
    r"哈哈",
    r"hhh",
    r"233",
    r"🤣",
    r"😂",
    r"开玩笑",
    r"开个玩笑",
    r"[笑累热饿困气吓冷忙渴]死(?:了|我了)?",
    r"杀疯了",
    r"(?:多|累|烦|难|热|饿|困|丑|吵|挤|尴尬|无聊|难吃|难听|难看)(?:到|得)想死",
    r"社死",
    r"想死你",
    r"\bjk\b",
    r"(?<!当)(?<!当成)(?<!当作)气话",  # "是气话", not "我们以前都当气话"
    r"说着玩",
)


# "现在"/"还在" often mean "these days" in a story about the past (see ``_Found.now_for``).
WEAK_NOW = re.compile(r"现在|还在|这会儿?|一会儿?")
# "现在很生气/好怕" is how the person feels now, not violence happening now.
FEELING_NOW = re.compile(
    r"(?:现在|还在)(?:都|也)?(?:很|好|特别|真的|还是|有点)?(?:生.{0,3}气|害怕|难受|伤心|怕|不敢|不想|气|懵|委屈|后怕)"
)
# Farewells that speak for themselves (a last message, a will), not "see you".
STRONG_FAREWELL = _rx(
    r"遗书",
    r"遗言",
    r"永别",
    r"最后一(?:次|条)",
    r"写给这个世界",
    r"最后一(?:天|晚)",
    r"忌日",
    BARE_GOODBYE,
)
# A goodbye with an ordinary reason is not a farewell: moving, changing schools, graduating, going home.
GOODBYE = re.compile(r"再见|bye|拜拜|最后一条")
ORDINARY_GOODBYE = _rx(
    r"搬家", r"转学", r"毕业", r"出国", r"回老家", r"放假", r"明天见(?!不)", r"下次见", r"收手机", r"没电了", r"关机了?"
)
# A lost pet or phone is not a missing child; a child found again is no longer missing.
ANIMAL = _rx(r"猫", r"狗", r"宠物", r"羊", r"牛", r"猪(?!圈)", r"鸡", r"马(?!路|上)")
NOT_A_CHILD = _rx(
    r"猫", r"狗", r"宠物", r"钥匙", r"手机", r"钱包", r"防走失", r"防走丢", r"防拐", r"(?:爸妈|父母|家长)(?:都)?失联"
)
# Panic described by the person who had it is distress, not a medical emergency.
NOT_AN_EMERGENCY = _rx(
    r"紧张",
    r"焦虑",
    r"惊恐",
    r"查不出",
    r"笑(?:到|得)",
    r"拔牙",
    r"医生说(?:没事|正常|不要紧)",
    r"例假",
    r"月经",
    r"(?:校医|医生|护士|老师)(?:已经)?(?:给|帮)?(?:我|他|她)?(?:包|处理|止血)好了",
    r"(?:已经)?不疼了",
)
FOUND_AGAIN = _rx(
    r"(?<!没)(?<!没有)(?<!还没)找到了(?!吗|没)", r"找回来了", r"虚惊一场", r"原来(?:是)?(?:躲|钻|藏|在|去)"
)
SHORT_MESSAGE_CLAUSES = 4


@dataclass(frozen=True, slots=True)
class SafetyResult:
    """The lowest urgency the message may get, and why."""

    floor: Urgency
    category: Category | None
    signals: tuple[str, ...]


NOTHING = SafetyResult(Urgency.BLUE, None, ())
# Every pattern that can raise the floor; time, news and joke words only qualify them.
ANY_TRIGGER = re.compile(
    "|".join(
        f"(?:{p.pattern})"
        for p in (
            SUICIDE_INTENT,
            SELF_HARM,
            VIOLENCE,
            SEVERE_VIOLENCE,
            SEXUAL,
            MISSING,
            STRANGER,
            CONFINED,
            MEANS,
            STRONG_MEANS,
            FAREWELL,
            ATTEMPT,
            SEXTORTION,
            SLANG_DEATH,
            YOUNG_CHILD_ALONE,
            MEDICAL,
            ABOUT_TO_JUMP,
            ACCIDENT,
            GAS_SMELL,
            MALTREATMENT,
            FIRE,
            HELD,
            UNWELL,
        )
    )
)
# Sexual assault within the last 72 hours is red (taxonomy.md), whatever follows it in the clause.
WITHIN_72H = _rx(r"昨(?:天|晚)", r"前天", r"[一两三1-3]天前", r"这两天", r"今(?:天|晚|早)", r"刚才", r"刚刚")


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m.group(0) if m else None


def _unnegated(pattern: re.Pattern[str], clause: str, signals: list[str]) -> str | None:
    """The first match in ``clause`` that is not negated just before it."""
    for m in pattern.finditer(clause):
        before = clause[max(0, m.start() - 6) : m.start()]
        if NEGATION_BEFORE.search(before):
            signals.append(f"否定: {clause[max(0, m.start() - 4) : m.end()]}")
            continue
        return m.group(0)
    return None


def _ordinary_goodbye(hit: str, normalized: str) -> bool:
    """A goodbye (再见, bye, 最后一条) in a message that gives an ordinary reason for it (搬家, 明天见 …)."""
    return GOODBYE.search(hit) is not None and ORDINARY_GOODBYE.search(normalized) is not None


def _within_72h(clause: str, hit: str) -> bool:
    """A time word of the last three days in the clause, and no past or habitual word before the assault."""
    return WITHIN_72H.search(clause) is not None and PAST.search(clause[: clause.find(hit)]) is None


def assess(text: str) -> SafetyResult:
    """Scan every clause of ``text`` for red flags; return the floor and its reasons."""
    return assess_normalized(prepare(text))


def assess_normalized(normalized: str) -> SafetyResult:
    """:func:`assess` of text already through :func:`triage.text.prepare`."""
    clauses = [c for c in (raw.strip() for raw in _CLAUSE_SPLIT.split(normalized)) if c]
    # Most messages name no red flag at all: one combined search per clause decides that.
    if not any(ANY_TRIGGER.search(c) for c in clauses):
        return NOTHING
    signals: list[str] = []
    found = _Found()
    for index, clause in enumerate(clauses):
        reported = _first(REPORTED, clause)
        hypothetical = _first(HYPOTHETICAL, clause)
        if reported or hypothetical:
            if any(p.search(clause) for p in (SUICIDE_INTENT, VIOLENCE, SEXUAL, MISSING, CONFINED)):
                signals.append(f"转述: {reported}" if reported else f"假设: {hypothetical}")
            continue
        joke = _first(JOKE, clause)
        for name, pattern in (
            ("intent", SUICIDE_INTENT),
            ("selfharm", SELF_HARM),
            ("violence", VIOLENCE),
            ("severe_violence", SEVERE_VIOLENCE),
            ("sexual", SEXUAL),
            ("missing", MISSING),
            ("stranger", STRANGER),
            ("confined", CONFINED),
            ("held", HELD),
        ):
            hit = _unnegated(pattern, clause, signals)
            if hit is None:
                continue
            if joke and name in ("intent", "violence", "severe_violence"):
                signals.append(f"玩笑: {joke}")
                if name == "intent":
                    found.add("joking_intent", hit, index)  # counts only with a means, farewell or attempt
                continue
            if name == "missing" and (NOT_A_CHILD.search(clause) or FOUND_AGAIN.search(normalized)):
                continue
            if name == "confined" and "拴" in hit and ANIMAL.search(clause):  # a dog on a chain
                continue
            found.add(name, hit, index)
            if name == "sexual" and _within_72h(clause, hit):
                found.add("sexual_72h", hit, index)
        for name, pattern in (
            ("means", MEANS),
            ("strong_means", STRONG_MEANS),
            ("farewell", FAREWELL),
            ("attempt", ATTEMPT),
            ("now", NOW),
            ("past", PAST),
            ("recent", RECENT),
            ("sextortion", SEXTORTION),
            ("slang_death", SLANG_DEATH),
            ("child_alone", YOUNG_CHILD_ALONE),
            ("medical", MEDICAL),
            ("about_to_jump", ABOUT_TO_JUMP),
            ("plan_to_take", PLAN_TO_TAKE),
            ("alone", ALONE),
            ("unwell", UNWELL),
            ("accident", ACCIDENT),
            ("fire", FIRE),
            ("trapped", TRAPPED),
            ("gas_smell", GAS_SMELL),
            ("gas_symptom", GAS_SYMPTOM),
            ("maltreatment", MALTREATMENT),
            ("carer_leaving", CARER_LEAVING),
        ):
            hit = _unnegated(pattern, clause, signals) if name not in ("past", "recent") else _first(pattern, clause)
            if name in ("accident", "fire") and hit is not None and joke:
                hit = None
            if name == "sextortion" and hit is not None and NOT_INTIMATE.search(hit) and not INTIMATE.search(clause):
                hit = None
            if name == "medical" and hit is not None and NOT_AN_EMERGENCY.search(clause):
                hit = None
            if name == "slang_death" and hit is not None and NOT_DYING.search(clause):
                hit = None
            if name == "about_to_jump" and hit is not None and (joke or NOT_A_JUMP.search(clause)):
                hit = None
            if hit is not None:
                found.add(name, hit, index)
                if name == "past" and any(not HABITUAL.fullmatch(m.group(0)) for m in PAST.finditer(clause)):
                    found.add("settled_past", hit, index)  # 以前, 去年 …; not only 天天/每天
                before = re.split(r"[，, ]", clause[: clause.find(hit)][-8:])[-1]
                if name == "farewell" and not PAST.search(before) and not _ordinary_goodbye(hit, normalized):
                    found.add("farewell_now", hit, index)
                    found.farewells += len(FAREWELL.findall(clause))
                if name == "now" and WEAK_NOW.fullmatch(hit) and FEELING_NOW.search(clause):
                    found.clauses["now"].discard(index)
                    if not found.clauses["now"]:
                        del found["now"], found.clauses["now"]
                elif name == "now" and not WEAK_NOW.fullmatch(hit):
                    found.add("strong_now", hit, index)
    return _decide(found, signals, len(clauses))


class _Found(dict[str, str]):
    """First hit of each kind, and the clauses each kind occurs in."""

    def __init__(self) -> None:
        super().__init__()
        self.clauses: dict[str, set[int]] = {}
        self.farewells = 0

    def add(self, name: str, hit: str, clause: int) -> None:
        self.setdefault(name, hit)
        self.clauses.setdefault(name, set()).add(clause)

    def near(self, name: str, trigger: str, distance: int) -> bool:
        return any(abs(i - j) <= distance for i in self.clauses.get(name, ()) for j in self.clauses.get(trigger, ()))

    def now_for(self, trigger: str, short: bool) -> bool:
        """A time word for *now* that belongs to ``trigger``'s clauses.

        A strong one (正在, 刚才, 今晚, 马上, 救命 …) counts anywhere in a short
        message and within two clauses in a long one. A weak one (现在, 还在) is
        often "these days" in a story about the past, so it counts in the
        trigger's own clause, or the next one, only when no past or habitual
        word (以前, 经常, 每天, 上个月 …) is in the same place.
        """
        if "strong_now" in self and (short or self.near("strong_now", trigger, 2)):
            return True
        for i in self.clauses.get(trigger, ()):
            for j in self.clauses.get("now", ()):
                if abs(i - j) > 1:
                    continue
                span = set(range(min(i, j), max(i, j) + 1))
                if not span & self.clauses.get("past", set()):
                    return True
        return False

    def without(self, name: str, other: str) -> bool:
        """Some clause of ``name`` has no ``other`` in it."""
        return any(i not in self.clauses.get(other, ()) for i in self.clauses.get(name, ()))

    def past_for(self, trigger: str) -> bool:
        return self.near("past", trigger, 1)


def _decide(found: _Found, signals: list[str], clauses: int) -> SafetyResult:
    def sig(label: str, key: str) -> str:
        return f"{label}: {found[key]}"

    short = clauses <= SHORT_MESSAGE_CLAUSES
    reasons: list[str] = []
    floor = Urgency.BLUE
    category: Category | None = None

    def raise_to(level: Urgency, cat: Category | None, *why: str) -> None:
        nonlocal floor, category
        if level.rank > floor.rank:
            floor, category = level, cat
        reasons.extend(w for w in why if w and w not in reasons)

    def now(trigger: str) -> bool:
        return found.now_for(trigger, short)

    def present(trigger: str) -> bool:
        """Not only in the past: a time word for now, or no past word next to it."""
        return now(trigger) or not found.past_for(trigger)

    # Habitual words (天天, 一直) are past words to present(); for the rules below they are not,
    # only a settled past (以前, 去年 …) is.
    def unsettled(trigger: str) -> bool:
        """Present, or no settled past within a clause of it."""
        return present(trigger) or not found.near("settled_past", trigger, 1)

    def ongoing(trigger: str) -> bool:
        """Present, or some clause of it with no settled past in that clause."""
        return present(trigger) or found.without(trigger, "settled_past")

    intent_key = "intent" if "intent" in found else "selfharm" if "selfharm" in found else None
    if intent_key is not None:
        intent_sig = sig("意图", "intent") if intent_key == "intent" else sig("自伤", "selfharm")
        plan = [k for k in ("means", "farewell", "attempt") if k in found and (short or found.near(k, intent_key, 2))]
        labels = {"means": "手段", "farewell": "告别", "attempt": "正在进行"}
        # With a plan (a means in hand, a farewell, an attempt), a habitual word ("天天打游戏") does
        # not make the wish a thing of the past; only a settled one (以前, 去年 …) does.
        if plan and unsettled(intent_key):
            raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, intent_sig, *(sig(labels[k], k) for k in plan))
        elif now(intent_key):
            raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, intent_sig, sig("时间", "now"))
        else:
            raise_to(Urgency.ORANGE, Category.SUICIDE_SELFHARM, intent_sig)
    if "joking_intent" in found and intent_key is None:
        # "累到想死，今晚就从楼顶跳下去": hyperbole does not cancel a plan.
        plan = [k for k in ("means", "farewell", "attempt") if k in found and found.near(k, "joking_intent", 1)]
        if plan and (now("joking_intent") or "attempt" in plan or "farewell" in plan):
            raise_to(
                Urgency.RED, Category.SUICIDE_SELFHARM, sig("意图", "joking_intent"), *(sig("手段", k) for k in plan)
            )
    if "farewell" in found and ("means" in found or "attempt" in found) and present("farewell"):
        raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, sig("告别", "farewell"))
    if "slang_death" in found and "farewell" in found:
        raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, sig("意图", "slang_death"), sig("告别", "farewell"))
    if found.farewells >= 2:
        raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, sig("告别", "farewell"))
    if "farewell_now" in found and STRONG_FAREWELL.search(found["farewell_now"]):
        raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, sig("告别", "farewell"))
    if "about_to_jump" in found:
        raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, sig("正在进行", "about_to_jump"))
    if "strong_means" in found and "plan_to_take" in found and found.near("plan_to_take", "strong_means", 2):
        raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, sig("手段", "strong_means"), sig("计划", "plan_to_take"))
    if "strong_means" in found and (now("strong_means") or "farewell" in found):
        raise_to(
            Urgency.RED,
            Category.SUICIDE_SELFHARM,
            sig("手段", "strong_means"),
            sig("时间", "now") if "now" in found else "",
        )
    if "attempt" in found and ("means" in found or "medical" in found) and present("attempt"):
        raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, sig("正在进行", "attempt"))
    if "violence" in found and now("violence"):
        raise_to(Urgency.RED, Category.FAMILY_VIOLENCE, sig("暴力", "violence"), sig("时间", "now"))
    if "severe_violence" in found and present("severe_violence"):
        raise_to(Urgency.RED, Category.FAMILY_VIOLENCE, sig("暴力", "severe_violence"))
    if "sexual" in found and "recent" in found and present("sexual") and found.near("recent", "sexual", 2):
        raise_to(Urgency.RED, Category.SEXUAL_ABUSE, sig("性侵害", "sexual"), sig("时间", "recent"))
    if "sexual_72h" in found:
        raise_to(Urgency.RED, Category.SEXUAL_ABUSE, sig("性侵害", "sexual_72h"), "时间: 72小时内")
    if "sextortion" in found:
        raise_to(Urgency.RED, Category.SEXUAL_ABUSE, sig("威胁", "sextortion"))
    if "missing" in found and present("missing"):
        raise_to(Urgency.RED, Category.MISSING, sig("走失/被带走", "missing"))
    if "stranger" in found and ongoing("stranger"):
        raise_to(Urgency.RED, Category.MISSING, sig("陌生人", "stranger"))  # "一直在校门口" is now
    if "child_alone" in found:
        raise_to(Urgency.RED, Category.NEGLECT, sig("幼童独处", "child_alone"))
    if "held" in found and ongoing("held"):
        raise_to(Urgency.RED, Category.EXPLOITATION, sig("被扣留", "held"))
    if "confined" in found and present("confined"):
        raise_to(Urgency.RED, Category.FAMILY_VIOLENCE, sig("被关", "confined"))
    if "medical" in found and present("medical"):
        raise_to(Urgency.RED, category, sig("急症", "medical"))
    if "alone" in found and "unwell" in found and found.near("unwell", "alone", 2) and present("unwell"):
        raise_to(Urgency.RED, Category.NEGLECT, sig("独处", "alone"), sig("身体", "unwell"))
    if "accident" in found and present("accident"):
        raise_to(Urgency.RED, category, sig("意外", "accident"))
    gas = "gas_smell" in found and "gas_symptom" in found and found.near("gas_symptom", "gas_smell", 2)
    if gas and unsettled("gas_smell"):  # "一直睡不醒" is now
        raise_to(Urgency.RED, category, sig("意外", "gas_smell"), sig("身体", "gas_symptom"))
    if "maltreatment" in found and "carer_leaving" in found and found.near("carer_leaving", "maltreatment", 2):
        raise_to(Urgency.RED, Category.FAMILY_VIOLENCE, sig("伤情", "maltreatment"), sig("带离", "carer_leaving"))
    if "fire" in found and "trapped" in found and found.near("trapped", "fire", 1) and present("fire"):
        raise_to(Urgency.RED, category, sig("火情", "fire"), sig("被困", "trapped"))
    if floor is Urgency.BLUE and "past" in found and any(k in found for k in ("violence", "sexual")):
        reasons.append(sig("时间", "past"))
    notes = [s for s in dict.fromkeys(signals)]
    return SafetyResult(floor, category, tuple(reasons + notes)[:8])
