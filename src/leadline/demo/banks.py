"""The words the demo is made of: what people say about themselves, companies, pages, channels.

Everything is a tuple or a dict literal, never a set: the generator must walk these in the same
order in every process, whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

SITE = "https://closewise.example"
SELLER_DOMAIN = "closewise.example"

# country: (Faker locale, time zones, weight, sales region, legal forms)
COUNTRIES: dict[str, tuple[str, tuple[str, ...], int, str, tuple[str, ...]]] = {
    "GB": ("en_GB", ("Europe/London",), 16, "EMEA", ("Ltd", "Ltd", "plc")),
    "IE": ("en_IE", ("Europe/Dublin",), 4, "EMEA", ("Ltd", "DAC")),
    "DE": ("de_DE", ("Europe/Berlin",), 14, "EMEA", ("GmbH", "GmbH", "AG", "SE")),
    "AT": ("de_AT", ("Europe/Vienna",), 3, "EMEA", ("GmbH", "AG")),
    "CH": ("de_CH", ("Europe/Zurich",), 3, "EMEA", ("AG", "GmbH")),
    "FR": ("fr_FR", ("Europe/Paris",), 8, "EMEA", ("SAS", "SA")),
    "NL": ("nl_NL", ("Europe/Amsterdam",), 6, "EMEA", ("B.V.", "N.V.")),
    "SE": ("sv_SE", ("Europe/Stockholm",), 4, "EMEA", ("AB",)),
    "DK": ("da_DK", ("Europe/Copenhagen",), 3, "EMEA", ("A/S", "ApS")),
    "ES": ("es_ES", ("Europe/Madrid",), 4, "EMEA", ("S.L.", "S.A.")),
    "IT": ("it_IT", ("Europe/Rome",), 4, "EMEA", ("S.p.A.", "S.r.l.")),
    "PL": ("pl_PL", ("Europe/Warsaw",), 4, "EMEA", ("sp. z o.o.", "S.A.")),
    "US": (
        "en_US",
        ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
        20,
        "Americas",
        ("Inc.", "Inc.", "LLC", "Corp."),
    ),
    "CA": ("en_CA", ("America/Toronto", "America/Vancouver"), 4, "Americas", ("Inc.", "Ltd.")),
    "MX": ("es_MX", ("America/Mexico_City",), 2, "Americas", ("S.A. de C.V.",)),
    "BR": ("pt_BR", ("America/Sao_Paulo",), 2, "Americas", ("Ltda.", "S.A.")),
}

# Free-mail providers people really use, by country; all are in core.freemail's list.
FREE_MAIL: dict[str, tuple[str, ...]] = {
    "GB": ("gmail.com", "outlook.com", "btinternet.com", "yahoo.co.uk"),
    "DE": ("gmx.de", "web.de", "t-online.de", "gmail.com"),
    "AT": ("gmx.net", "gmail.com"),
    "CH": ("gmx.net", "gmail.com"),
    "FR": ("orange.fr", "free.fr", "gmail.com"),
    "IT": ("libero.it", "gmail.com"),
    "PL": ("wp.pl", "o2.pl", "gmail.com"),
    "US": ("gmail.com", "yahoo.com", "outlook.com", "icloud.com"),
    "CA": ("gmail.com", "rogers.com", "outlook.com"),
}
FREE_MAIL_DEFAULT = ("gmail.com", "outlook.com", "hotmail.com")

# industry: (words for a company name, what such a company makes or does)
INDUSTRIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Manufacturing": (
        ("Components", "Precision", "Industries", "Engineering"),
        ("industrial pumps", "packaging machinery", "precision bearings", "HVAC components"),
    ),
    "Logistics": (
        ("Logistics", "Freight", "Transport"),
        ("cold-chain transport", "contract warehousing", "freight forwarding"),
    ),
    "Software": (
        ("Software", "Labs", "Cloud", "Digital"),
        (
            "HR software for mid-sized firms",
            "a scheduling platform for clinics",
            "pricing tools for retailers",
        ),
    ),
    "Healthcare": (
        ("Health", "Medical", "Care"),
        ("home-care services", "diagnostic lab services", "orthopaedic devices"),
    ),
    "Retail": (
        ("Retail", "Stores", "Brands"),
        ("outdoor clothing", "garden and DIY stores", "specialty coffee, online and in 40 shops"),
    ),
    "Financial services": (
        ("Capital", "Finance", "Leasing"),
        ("equipment leasing", "lending to small businesses", "payment services"),
    ),
    "Energy": (
        ("Energy", "Power", "Renewables"),
        ("rooftop solar installations", "energy trading", "district heating"),
    ),
    "Construction": (
        ("Construction", "Build", "Structures"),
        ("commercial fit-outs", "modular buildings", "civil engineering works"),
    ),
    "Food & beverage": (
        ("Foods", "Brewing", "Dairy"),
        ("craft beer", "organic dairy products", "frozen bakery goods"),
    ),
    "Professional services": (
        ("Consulting", "Partners", "Advisory"),
        ("engineering consultancy", "managed IT services", "architecture and planning"),
    ),
    "Hospitality": (
        ("Hotels", "Hospitality", "Leisure"),
        ("boutique hotels", "holiday parks", "conference venues"),
    ),
    "Media": (
        ("Media", "Studios", "Publishing"),
        ("trade magazines and events", "film post-production", "educational publishing"),
    ),
}

CULTURE_NOTES = (
    "Decisions go through the CFO's Monday committee; IT has a veto on anything that touches SSO.",
    "Family-owned; the founder's daughter runs finance and signs everything over €20k herself.",
    "Procurement runs a formal RFP for anything over $50k: three quotes minimum, and they read "
    "them.",
    "Consensus-driven: expect the controller, the ERP admin and two regional finance leads on "
    "every call.",
    "Bought by a private-equity firm last year; the operating partner wants a five-day close by "
    "year end.",
    "The works council must be consulted on any tool that records who did what and when.",
    "Budget is set in October and frozen in January; outside that window nothing gets bought.",
    "Head office in the US decides tooling; the European entities can only recommend.",
    "Burned by a failed ERP rollout a few years ago: go slowly and bring references they can call.",
    "The CFO wants a one-page written memo, never slides on their own.",
    "Every vendor fills in their 180-question security questionnaire before a trial starts.",
    "Friendly but stretched: never call in the first five working days of the month, it is close "
    "week.",
)

# What someone cares about, and things they might write in a form's message box about it.
CARES: dict[str, tuple[str, tuple[str, ...]]] = {
    "close_speed": (
        "Getting the close from twelve working days down to five",
        (
            "We close in 12 working days. The board wants 5.",
            "How fast do your customers actually close after the first year?",
        ),
    ),
    "weekends": (
        "Month-end without weekend work for the team",
        ("My team worked three weekends in a row last quarter. Not doing that again.",),
    ),
    "spreadsheets": (
        "Fewer spreadsheets, one version of the truth",
        (
            "We have 140 reconciliation spreadsheets. Some have macros nobody understands.",
            "Our close checklist is a shared Excel file with 30 tabs.",
        ),
    ),
    "audit": (
        "An audit trail the auditors accept the first time",
        (
            "Our auditors asked for the same evidence four times this year.",
            "We need SOX-ready controls before the IPO readiness review.",
        ),
    ),
    "erp": (
        "Works with their ERP without a six-month project",
        (
            "Does it integrate with NetSuite out of the box?",
            "We're on SAP Business One. Is that supported?",
            "We move from Sage to Dynamics 365 next year, so timing matters.",
        ),
    ),
    "entities": (
        "Consolidating many entities and currencies without manual eliminations",
        ("14 entities, 9 currencies, and intercompany is a nightmare.",),
    ),
    "cash": (
        "Seeing the cash position daily, not monthly",
        ("I want to know our cash position without asking three banks.",),
    ),
    "budget": (
        "A business case that gets through before the budget freeze",
        ("Budget for next year is decided in November; I need numbers for the business case.",),
    ),
    "team": (
        "Keeping a small team from burning out",
        ("We're three people doing the work of six.",),
    ),
    "security": (
        "SSO, data kept in the EU and a clean security review",
        ("Where is the data hosted? We need it to stay in the EU.", "Do you support SAML SSO?"),
    ),
    "approvals": (
        "Invoice approvals that do not stall in someone's inbox",
        ("Invoices sit in approvers' inboxes for weeks.",),
    ),
    "forecast": (
        "A forecast the CEO believes",
        ("Our forecast lives in one person's head and one spreadsheet.",),
    ),
    "research": (
        "Understanding what is out there before committing to anything",
        ("Just researching for now.", "Comparing a few tools for a shortlist."),
    ),
}

# (their own words, a normalised title, what people in that seat tend to care about, weight)
ROLES: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    (
        "I keep the month-end close from eating my weekends",
        "Financial Controller",
        ("weekends", "close_speed", "spreadsheets"),
        10,
    ),
    (
        "I run the finance systems team — three people and too many spreadsheets",
        "Head of Finance Systems",
        ("spreadsheets", "erp", "team"),
        8,
    ),
    (
        "I'm the CFO; I sign off the numbers and answer for them to the board",
        "Chief Financial Officer",
        ("close_speed", "audit", "forecast", "budget"),
        7,
    ),
    (
        "I own the close calendar and chase everyone who is late on it",
        "Close Manager",
        ("close_speed", "weekends"),
        5,
    ),
    (
        "I look after group reporting for 14 entities in 9 countries",
        "Group Reporting Manager",
        ("entities", "close_speed"),
        4,
    ),
    (
        "I'm the finance person at a 60-person company, so a bit of everything",
        "Finance Manager",
        ("team", "spreadsheets", "cash"),
        7,
    ),
    (
        "I make sure the auditors find nothing interesting",
        "Head of Internal Audit",
        ("audit",),
        3,
    ),
    (
        "I build the forecast and then explain why reality ignored it",
        "FP&A Lead",
        ("forecast", "spreadsheets"),
        5,
    ),
    (
        "I manage accounts payable — 4,000 invoices a month and counting",
        "Accounts Payable Manager",
        ("approvals", "team"),
        5,
    ),
    (
        "I reconcile the bank accounts and the intercompany balances",
        "Senior Accountant",
        ("spreadsheets", "entities", "weekends"),
        7,
    ),
    (
        "I'm VP Finance; my job is to make the close boring",
        "VP Finance",
        ("close_speed", "audit", "budget"),
        5,
    ),
    (
        "I joined as controller six months ago to clean up the ledger",
        "Group Controller",
        ("audit", "spreadsheets", "entities"),
        4,
    ),
    (
        "I run revenue accounting for our subscriptions",
        "Revenue Accounting Manager",
        ("audit", "erp"),
        3,
    ),
    (
        "I'm on the treasury side: cash, FX and the banks",
        "Treasury Manager",
        ("cash", "entities"),
        3,
    ),
    (
        "I'm the ERP admin — NetSuite is my life",
        "ERP Systems Administrator",
        ("erp", "security"),
        4,
    ),
    (
        "I lead the finance transformation programme, whatever it means this quarter",
        "Finance Transformation Lead",
        ("close_speed", "budget", "erp"),
        3,
    ),
    (
        "I'm a founder; I still do the books on Sunday nights",
        "Co-founder & CEO",
        ("team", "cash", "weekends"),
        3,
    ),
    (
        "I head up our shared service centre in Kraków for the whole group",
        "Head of Finance Shared Services",
        ("approvals", "entities", "team"),
        2,
    ),
    (
        "I look after tax and statutory accounts across Europe",
        "Head of Tax",
        ("entities", "audit"),
        2,
    ),
    (
        "I'm the IT business partner for finance — I get the ticket when Excel breaks",
        "IT Business Partner, Finance",
        ("security", "erp"),
        3,
    ),
    (
        "I run procurement; finance asked me to look at close tools",
        "Procurement Manager",
        ("budget", "security", "research"),
        2,
    ),
    (
        "I turn the ledger into something the directors actually read",
        "Management Accountant",
        ("forecast", "spreadsheets"),
        4,
    ),
    (
        "I'm the COO, and finance reports to me for now",
        "Chief Operating Officer",
        ("cash", "team", "budget"),
        2,
    ),
    (
        "I'm the assistant controller, which means I do the actual close",
        "Assistant Controller",
        ("weekends", "close_speed", "spreadsheets"),
        5,
    ),
    (
        "I chase cash — billing and collections are mine",
        "Billing & Collections Lead",
        ("cash", "approvals"),
        3,
    ),
    (
        "I'm an audit manager at a big firm, looking at tools our clients use",
        "Audit Manager",
        ("research", "audit"),
        1,
    ),
    (
        "I'm writing my master's thesis on continuous accounting",
        "Student",
        ("research",),
        1,
    ),
)

PREFERRED_HOURS = (
    "mornings",
    "early mornings, before the team arrives",
    "after 3pm their time",
    "Tuesdays and Thursdays",
    "not in close week (first five working days of the month)",
    "lunchtime works best",
    "any time, but book it in the calendar first",
)

PERSONAL_CONTEXT = (
    "Back from parental leave in the spring; catching up on what changed.",
    "Moved from audit at a Big Four firm two years ago.",
    "Coaches their daughter's football team on Wednesday evenings.",
    "New in the role; the previous controller left without a handover.",
    "Runs marathons; mentioned training for Berlin.",
    "Works a four-day week, Fridays off.",
    "Was part of the last ERP rollout and still has the scars.",
    "Prefers to read before a call: send material a day ahead.",
    "Studying for the CPA exams at night.",
)

# Pages a visitor browses, with how often they come up.
PAGES: tuple[tuple[str, int], ...] = (
    ("/", 20),
    ("/product", 10),
    ("/product/close-management", 9),
    ("/product/reconciliations", 7),
    ("/product/consolidation", 4),
    ("/integrations/netsuite", 5),
    ("/integrations/sap", 3),
    ("/integrations/dynamics-365", 3),
    ("/customers", 6),
    ("/customers/brightwater-foods", 2),
    ("/customers/kessler-logistik", 2),
    ("/security", 3),
    ("/pricing", 8),
    ("/blog/the-five-day-close", 6),
    ("/blog/intercompany-without-tears", 3),
    ("/blog/what-auditors-ask-for", 4),
    ("/about", 2),
    ("/careers", 1),
)
# Pages people come back to once they are interested.
LATER_PAGES: tuple[str, ...] = ("/pricing", "/customers", "/security", "/integrations/netsuite")

# Where the forms live on the site.
LANDING_PAGES = {
    "cfo-guide": "/resources/cfo-guide",
    "demo-request": "/demo",
    "pricing": "/pricing",
    "webinar-close-faster": "/webinars/close-faster",
}

# (utm source, medium, campaigns, terms, contents, referrer, weight); "" = not set.
CHANNELS: tuple[
    tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...], str, int], ...
] = (
    (
        "google",
        "cpc",
        ("close-software-emea", "close-software-na", "brand"),
        (
            "month end close software",
            "reconciliation software",
            "financial close automation",
            "closewise",
        ),
        ("",),
        "https://www.google.com/",
        24,
    ),
    (
        "linkedin",
        "paid-social",
        ("q4-finance-push",),
        ("",),
        ("cfo-guide-carousel", "controller-video", "webinar-promo"),
        "https://www.linkedin.com/",
        18,
    ),
    (
        "newsletter",
        "email",
        ("finance-digest",),
        ("",),
        ("top-story", "sidebar"),
        "",
        12,
    ),
    (
        "partner",
        "referral",
        ("partner-northbridge-advisory", "partner-ledgerworks"),
        ("",),
        ("",),
        "https://northbridge-advisory.example/resources",
        7,
    ),
    ("", "", ("",), ("",), ("",), "https://www.google.com/", 22),  # organic search
    ("", "", ("",), ("",), ("",), "https://duckduckgo.com/", 3),
    ("", "", ("",), ("",), ("",), "", 14),  # typed the address, or a bookmark
)

# Real places for head offices, by country (Faker's invented towns read as fake).
CITIES: dict[str, tuple[str, ...]] = {
    "GB": ("Leeds", "Manchester", "Bristol", "Birmingham", "Glasgow", "Reading", "Cambridge"),
    "IE": ("Dublin", "Cork", "Galway", "Limerick"),
    "DE": ("Munich", "Hamburg", "Stuttgart", "Cologne", "Nuremberg", "Bielefeld", "Leipzig"),
    "AT": ("Vienna", "Graz", "Linz", "Salzburg"),
    "CH": ("Zurich", "Basel", "Bern", "Lucerne"),
    "FR": ("Paris", "Lyon", "Nantes", "Toulouse", "Lille"),
    "NL": ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven"),
    "SE": ("Stockholm", "Gothenburg", "Malmö", "Uppsala"),
    "DK": ("Copenhagen", "Aarhus", "Odense"),
    "ES": ("Madrid", "Barcelona", "Valencia", "Bilbao"),
    "IT": ("Milan", "Turin", "Bologna", "Verona"),
    "PL": ("Warsaw", "Kraków", "Wrocław", "Poznań"),
    "US": ("Chicago", "Austin", "Denver", "Atlanta", "Columbus", "Minneapolis", "Boston"),
    "CA": ("Toronto", "Vancouver", "Calgary", "Montreal"),
    "MX": ("Mexico City", "Monterrey", "Guadalajara"),
    "BR": ("São Paulo", "Curitiba", "Belo Horizonte"),
}
# What a one- or two-person business on a private address calls itself.
SMALL_FIRM_WORDS = ("Consulting", "Accounting", "Bookkeeping", "Advisory", "Trading")

# What a seller writes down on a touch. "{cares}" is what the person cares about, lower-cased.
CALL_NOTES = (
    "Good first call. What matters most to them: {cares}.",
    "Talked through their month-end for twenty minutes; {cares}.",
    "Reached them between meetings. Short call; {cares}.",
    "Long call with the controller; {cares}. Wants to see it with their own numbers.",
    "They picked up straight away. {cares} comes first; asked good questions about the ERP link.",
)
VOICEMAIL_NOTES = (
    "Left my direct line and two times that work for a call.",
    "Short voicemail: who I am, why I'm calling, my number.",
    "",
)
WRONG_NUMBER_NOTE = "The number on the form reaches someone else; wrote to them instead."
NO_CONTACT_EMAIL_NOTE = "Three calls without reaching them; wrote with a link to book a time."
# First replies by mail, by what they asked for.
EMAIL_NOTES: dict[str, tuple[str, ...]] = {
    "download": (
        "Followed up on the guide: asked how many working days their close takes today.",
        "Sent the customer story from a company their size, with an offer to walk them through it.",
        "Short note after the download: which habit in the guide is hardest for them?",
    ),
    "event": (
        "Sent the recording and the slides, and asked what they would like to see next.",
        "Thanked them for registering; offered a call with one of the speakers.",
    ),
    "urgent": (
        "Wrote back with two times for a call this week.",
        "Replied with the pricing sheet for their size and asked what they close on today.",
        "No phone number on the form: wrote to ask for a time to talk.",
    ),
}
MEETING_NOTES: dict[str, tuple[str, ...]] = {
    "demo": (
        "Booked a 30-minute demo with their own close calendar.",
        "Demo booked; the CFO and the ERP admin join too.",
    ),
    "pricing": (
        "Booked a pricing walk-through with the finance director.",
        "Booked a call to scope seats and entities for a quote.",
    ),
    "other": (
        "Booked an intro call for next week.",
        "Booked a 20-minute call to look at their close checklist together.",
    ),
}

# ---------------------------------------------------------------------------------------------
# The buyer's journey (demo/journeys.py): what t.js saw, what they said, who decides.

# What t.js reports as each page's title (document.title).
PAGE_TITLES: dict[str, str] = {
    "/": "Closewise: close the books in five days",
    "/product": "Product",
    "/product/close-management": "Close management",
    "/product/reconciliations": "Reconciliations",
    "/product/consolidation": "Consolidation",
    "/integrations/netsuite": "NetSuite integration",
    "/integrations/sap": "SAP integration",
    "/integrations/dynamics-365": "Dynamics 365 integration",
    "/customers": "Customer stories",
    "/customers/brightwater-foods": "Brightwater Foods closes in four days",
    "/customers/kessler-logistik": "Kessler Logistik: 14 entities, one close",
    "/security": "Security and data residency",
    "/pricing": "Pricing",
    "/pricing/compare": "Compare plans",
    "/blog/the-five-day-close": "The five-day close",
    "/blog/intercompany-without-tears": "Intercompany without tears",
    "/blog/what-auditors-ask-for": "What auditors ask for",
    "/about": "About us",
    "/careers": "Careers",
    "/resources/cfo-guide": "The CFO's guide to closing faster",
    "/demo": "Book a demo",
    "/webinars/close-faster": "Webinar: close faster",
    "/solutions/month-end-close": "Solutions: month-end close",
    "/solutions/reconciliations": "Solutions: reconciliations at scale",
    "/solutions/multi-entity": "Solutions: many entities, one close",
    "/guides/five-day-close-checklist": "Guide: the five-day close checklist",
    "/guides/business-case-template": "Guide: a business case your CFO will sign",
    "/payroll": "Closewise Payroll",
    "/payroll/pricing": "Payroll pricing",
    "/guides/switching-payroll-provider": "Guide: switching payroll provider mid-year",
    "/customers/nordlicht-baeckerei-payroll": "Nordlicht Bäckerei runs payroll in an hour",
}
# Where someone goes back to while they research (pricing, guides, case studies...).
RESEARCH_PAGES: tuple[tuple[str, int], ...] = (
    ("/pricing", 12),
    ("/pricing/compare", 4),
    ("/solutions/month-end-close", 6),
    ("/solutions/reconciliations", 4),
    ("/solutions/multi-entity", 3),
    ("/guides/five-day-close-checklist", 5),
    ("/guides/business-case-template", 3),
    ("/customers", 3),
    ("/customers/brightwater-foods", 3),
    ("/customers/kessler-logistik", 3),
    ("/security", 2),
    ("/integrations/netsuite", 2),
)
PAYROLL_PAGES: tuple[tuple[str, int], ...] = (
    ("/payroll", 5),
    ("/payroll/pricing", 4),
    ("/guides/switching-payroll-provider", 2),
    ("/customers/nordlicht-baeckerei-payroll", 1),
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
)

PRODUCT_CLOSE = "Month-end close"
PRODUCT_PAYROLL = "Payroll"
# The pain-point catalogue: (product, name, description, phrases in buyers' words).
PAIN_POINTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (PRODUCT_CLOSE, "Slow month-end close", "The close takes two weeks or more.",
     ("working days", "takes longer", "board wants five", "numbers are final")),
    (PRODUCT_CLOSE, "Weekends and late nights at month-end", "The team pays for the close.",
     ("weekends", "late nights")),
    (PRODUCT_CLOSE, "Spreadsheet sprawl", "Reconciliations and checklists live in spreadsheets.",
     ("spreadsheets", "excel file", "macros nobody understands", "versions of the truth")),
    (PRODUCT_CLOSE, "Chasing audit evidence", "Auditors ask for the same things again and again.",
     ("auditors asked", "same evidence", "audit trail")),
    (PRODUCT_CLOSE, "ERP integration risk", "Fear of a long integration project.",
     ("netsuite", "six-month project", "moving erp")),
    (PRODUCT_CLOSE, "Intercompany and consolidation by hand", "Many entities, manual eliminations.",
     ("intercompany", "eliminations", "currencies")),
    (PRODUCT_CLOSE, "No daily view of cash", "Cash is known once a month.",
     ("cash position", "three banks")),
    (PRODUCT_CLOSE, "A business case against the budget clock", "Budget windows close early.",
     ("business case", "budget freeze")),
    (PRODUCT_CLOSE, "A team stretched too thin", "Too few people for the work.",
     ("work of six", "burning out", "can't hire")),
    (PRODUCT_CLOSE, "Security review and data residency", "IT and legal must agree first.",
     ("stay in the eu", "sso", "security questionnaire")),
    (PRODUCT_CLOSE, "Approvals that stall", "Invoices wait for approvers.",
     ("approvers", "stuck in approval")),
    (PRODUCT_CLOSE, "A forecast nobody trusts", "The forecast is one person's spreadsheet.",
     ("forecast",)),
    (PRODUCT_PAYROLL, "Payroll errors", "People paid the wrong amount.",
     ("payroll errors", "paid the wrong")),
    (PRODUCT_PAYROLL, "Re-keying timesheets", "Hours typed in twice.",
     ("timesheets", "re-key")),
    (PRODUCT_PAYROLL, "Late filing penalties", "Tax filings missed or late.",
     ("late filing", "penalty")),
    (PRODUCT_PAYROLL, "Bureau fees per payslip", "An outsourced bureau that costs more each year.",
     ("per payslip", "payroll bureau")),
    (PRODUCT_PAYROLL, "Payslip requests by email", "Employees cannot find their own payslips.",
     ("asking for their payslips", "payslips")),
    (PRODUCT_PAYROLL, "Year-end dread", "Year-end reporting takes a week.",
     ("year-end",)),
    (PRODUCT_PAYROLL, "Pension and benefit deductions", "Deductions worked out by hand.",
     ("pension", "deductions")),
    (PRODUCT_PAYROLL, "Payroll in several countries", "A different provider in every country.",
     ("several countries", "different providers")),
)  # fmt: skip
# What people say on calls, in their own words, by what they care about (CARES' keys).
QUOTES: dict[str, tuple[str, ...]] = {
    "close_speed": (
        "We close in twelve working days and the board wants five.",
        "Every month the close takes longer than the month before.",
        "By the time the numbers are final they are already out of date.",
    ),
    "weekends": (
        "My team worked three weekends in a row last quarter.",
        "Month-end means late nights for everyone, again.",
    ),
    "spreadsheets": (
        "We have 140 reconciliation spreadsheets and some have macros nobody understands.",
        "Our close checklist is an Excel file with 30 tabs.",
        "There are three versions of the truth and none of them match.",
    ),
    "audit": (
        "The auditors asked for the same evidence four times this year.",
        "We need an audit trail before the readiness review.",
    ),
    "erp": (
        "Whatever we buy has to work with NetSuite on day one.",
        "We are moving ERP next year, so I cannot afford a six-month project.",
    ),
    "entities": (
        "Fourteen entities, nine currencies, and intercompany is a nightmare.",
        "Eliminations are still done by hand at two in the morning.",
    ),
    "cash": ("I want to see our cash position without ringing three banks.",),
    "budget": (
        "I need a business case before the budget freeze in November.",
        "If it is not in next year's budget by October, it waits a year.",
    ),
    "team": (
        "We are three people doing the work of six.",
        "My team is burning out and I can't hire.",
    ),
    "security": (
        "Our data has to stay in the EU, full stop.",
        "IT will not look at anything without SSO and their security questionnaire.",
    ),
    "approvals": ("Invoices sit with approvers for weeks.", "Half our spend is stuck in approval."),
    "forecast": (
        "Our forecast lives in one person's head.",
        "The CEO does not believe the forecast, and honestly neither do I.",
    ),
    "research": (
        "We are just researching for now.",
        "The forecast is fine; it is the close that hurts.",
        "I am putting together a shortlist for next year.",
    ),
}
PAYROLL_QUOTES = (
    "Payroll errors cost us two weekends last quarter.",
    "We still re-key timesheets into the payroll system by hand.",
    "We paid a late filing penalty in March.",
    "Our payroll bureau charges per payslip and it adds up.",
    "Employees email us every month asking for their payslips.",
    "Year-end is the week I dread most.",
    "Pension deductions are worked out in a spreadsheet.",
)
CALL_FOLLOW_UPS = (
    "Next: the five-day close checklist, and a call after their close.",
    "Agreed to talk again once this month's close is done.",
    "They want to see it with their own numbers before anyone else joins.",
    "Sending two customer stories from companies their size.",
)
MEETING_SUMMARIES: dict[str, tuple[str, ...]] = {
    "demo": (
        "Demo on their own close calendar with {who}. Most questions were about the ERP link.",
        "Demo for {who}: reconciliations and the close checklist, then pricing questions.",
    ),
    "pricing": (
        "Pricing walk-through with {who}: seats, entities and what the first year costs.",
        "Scoped a quote with {who}; they compare us with two other vendors.",
    ),
    "other": (
        "Intro call with {who}: how their close runs today and where it hurts.",
        "Looked at their close checklist together with {who}.",
    ),
}
CASE_SUMMARIES = (
    "Business case review with {who}: ROI, rollout plan and what the first quarter costs.",
    "Went through the numbers with {who}; finance wants references before signing.",
    "Call with {who} about budget and timing; they need the figures for the board pack.",
)
EMAIL_REPLIES = (
    "Replied to {rep}'s email with how their close runs today.",
    "Wrote back to {rep}: interested, but after this quarter's close.",
    "Answered {rep}'s questions by email and asked for a price for their size.",
)
NOTE_SUMMARIES = (
    "Met at the CFO roundtable; they brought up the close themselves.",
    "Their controller mentioned them to a colleague of ours at a user group.",
    "Saw their job ad for a second accountant; worth a call after their close.",
)
PAYROLL_SUMMARIES = (
    "Call about payroll for their {n} people: bureau, timesheets and year-end.",
    "They asked whether we also run payroll; talked through how they pay people today.",
)
EMAIL_SUBJECTS = (
    "The five-day close checklist",
    "How Brightwater Foods closes in four days",
    "Your pricing for {n} entities",
)
PROPOSAL_TITLES = ("Proposal: close management for {n} entities", "Quote: {n} seats, annual")
MOVE_FORWARD_NOTES = (
    "Moved on after the call: they already have a shortlist of three and want a demo.",
    "They are further along than the signals show: budget is approved, they compare vendors.",
    "Moved on: the CFO asked for references, so the internal case is being built.",
)
MOVE_BACK_NOTES = (
    "Moved back: the project is on hold until the new CFO starts.",
    "Moved back: their ERP move comes first; they are only exploring for now.",
)
PAYROLL_START_NOTES = (
    "Asked on the call whether we do payroll too; their bureau contract ends in spring.",
    "Small team, payroll by hand: put them on the payroll journey.",
)
# How a company with a buying committee decides (added to those without notes).
COMMITTEE_CULTURE_NOTES = (
    "Decisions by consensus in the Monday leadership meeting; the CFO has a veto over anything "
    "above 50k.",
    "The controller chooses, the CFO signs, and IT can stop anything that touches SSO.",
    "Procurement joins late and always asks for a second quote.",
    "Founder-led: nothing is bought without the founder's nod, however small.",
)
STAKEHOLDER_NOTES: dict[str, tuple[str, ...]] = {
    "decides": ("Has the final word; wants a one-page memo.",),
    "signs": ("Signs anything over budget; rarely joins calls.",),
    "champions": ("Pushes for us internally; wants references to forward.",),
    "influences": ("Listened to on tooling; sceptical of long projects.",),
    "uses": ("Would use it every day during the close.",),
    "gatekeeps": ("Runs the security review; nothing moves until it is done.",),
    "blocks": ("Prefers to build it in spreadsheets; worried about the cost.",),
}
