"""Mail domains that say nothing about a person's employer."""

FREE_MAIL_DOMAINS = frozenset(
    """
    gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de ymail.com rocketmail.com
    hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.it outlook.com outlook.de live.com
    live.co.uk msn.com aol.com icloud.com me.com mac.com proton.me protonmail.com pm.me
    gmx.com gmx.de gmx.net web.de t-online.de freenet.de mail.com email.com zoho.com
    yandex.com yandex.ru mail.ru inbox.ru qq.com 163.com 126.com sina.com naver.com
    orange.fr free.fr laposte.net sfr.fr wanadoo.fr libero.it virgilio.it tiscali.it
    btinternet.com sky.com virginmedia.com comcast.net verizon.net att.net sbcglobal.net
    bigpond.com optusnet.com.au shaw.ca rogers.com sympatico.ca seznam.cz wp.pl o2.pl
    fastmail.com fastmail.fm hey.com tutanota.com tuta.io mailbox.org posteo.de hushmail.com
    """.split()
)


def is_free_mail(domain: str) -> bool:
    return domain.lower() in FREE_MAIL_DOMAINS
