#!/usr/bin/env python3
"""Generate the "apple" data set: data/apple/{train,dev,test}.conll and their .meta.jsonl.

In "I like eating apple!" *apple* is a fruit; in "The Apple is a great company!" it is a company. This
script writes sentences where the word *apple* appears in both senses equally often, with its
capitalisation (apple / Apple) drawn independently of its sense, so that only the context can decide.
Other fruits (banana, pear, …) and companies (Microsoft, General Motors, …) fill the same frames and
give unambiguous examples of both kinds of context.

Sentences come from frames: token sequences with slots filled from word lists (hundreds of context
words, drawn with Zipf weights so that common cues are frequent and rare ones still occur). Each frame has a sense (food or company) and a cue position: ``before`` (a deciding word comes
before the entity) or ``after`` (everything before the entity is neutral: "Yesterday , apple shares
fell"). Frames are split between train, dev and test, so the test sentences use frames never seen in
training; the two sentences of the notes belong to test frames and never occur in training.

Tags are BIO: B-FRUIT, B-ORG, I-ORG (multi-word companies). Each ``.meta.jsonl`` line describes the
sentence at the same position: ``{"sense", "cue", "frame", "apple"}`` (``apple``: the index of the
apple token, or null when another entity fills the slot).

Usage: python scripts/make_apple_data.py [--out data/apple] [--seed 13] [--train 4000 --dev 600 --test 1200]
The output is a deterministic function of the arguments.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

WORDS: dict[str, list[str]] = {
    # ---- neutral: used by both senses
    "PRE": [
        "", "", "", "I think", "Yesterday ,", "Everyone says", "My friend told me", "I heard that", "Honestly ,",
        "Last week ,", "Apparently ,", "They said", "I read that", "Surprisingly ,", "In the end ,", "As always ,",
        "This morning ,", "Believe it or not ,", "Of course ,", "Well ,", "Today", "It seems", "Once again ,",
        "My neighbour says", "To be fair ,", "Frankly ,", "Sadly ,", "Luckily ,", "According to Tom ,",
        "Some people say", "Rumour has it", "On Monday ,", "Last year ,", "Guess what ,", "Oh ,", "So",
    ],
    "PERSON": [
        "I", "my mother", "the chef", "my grandmother", "the children", "Tom", "Maria", "my brother", "the baker",
        "our teacher", "the farmer", "my daughter", "she", "he", "we", "they", "the boy", "the girl", "my dad",
        "Anna", "John", "my aunt", "the cook", "our neighbour", "the kids", "my sister", "Peter", "Lucy",
    ],
    "TIME": ["today", "yesterday", "last night", "this morning", "on Sunday", "every day", "again", "last week", "at noon", "recently"],
    "END": [".", ".", ".", "!", "!", "?"],
    "POST": [
        "this year", "again", "for sure", "I guess", "as usual", "these days", ", right", "in my opinion",
        "of course", "I think", ", they say", "after all", "as expected", "at last", "every time", "this week",
        "once more", "by the way", ", honestly", "apparently",
    ],
    "GENERIC_ADJ": ["great", "good", "nice", "famous", "popular", "amazing", "big", "wonderful", "special", "perfect"],
    # ---- food context
    "EAT_ING": [
        "eating", "peeling", "slicing", "cutting", "washing", "chopping", "tasting", "biting into", "munching on",
        "picking", "baking", "cooking", "grating", "squeezing", "dicing", "coring", "roasting", "stewing", "juicing",
        "mashing", "snacking on", "chewing", "nibbling on", "devouring", "pureeing", "stuffing", "caramelizing",
    ],
    "EAT_PAST": [
        "ate", "peeled", "sliced", "cut", "washed", "chopped", "tasted", "bit into", "munched on", "picked",
        "baked", "cooked", "grated", "squeezed", "diced", "cored", "roasted", "stewed", "juiced", "mashed",
        "chewed", "nibbled on", "devoured", "pureed", "stuffed", "caramelized", "swallowed", "grilled",
    ],
    "EAT_BASE": [
        "eat", "peel", "slice", "cut", "wash", "chop", "taste", "bite into", "pick", "bake", "cook", "grate",
        "squeeze", "dice", "core", "roast", "stew", "juice", "mash", "chew", "nibble on", "devour", "grill",
    ],
    "FOOD_ADJ": [
        "ripe", "juicy", "sweet", "sour", "fresh", "crisp", "crunchy", "rotten", "red", "green", "yellow",
        "delicious", "tasty", "organic", "bruised", "soft", "tart", "fragrant", "overripe", "peeled", "sliced",
        "frozen", "dried", "shiny", "mushy", "seedless", "bitter", "tangy", "mouldy", "baked", "raw", "succulent",
    ],
    "FOOD_AFTER": [
        "pie", "juice", "tree", "seeds", "slices", "jam", "sauce", "cider", "peel", "skin", "core", "orchard",
        "crumble", "tart", "smoothie", "salad", "cake", "muffins", "blossom", "leaves", "pulp", "compote",
        "chutney", "vinegar", "chips", "puree", "yogurt", "sorbet", "pancakes", "strudel", "trees", "harvest",
    ],
    "FOOD_PLACE": [
        "the kitchen", "the fridge", "a basket", "the bowl", "my lunchbox", "the fruit bowl", "the garden",
        "the market", "the grocery store", "the farm", "a picnic basket", "the plate", "the table", "my backpack",
        "the oven", "the blender", "the pantry", "a paper bag", "the cupboard", "the salad",
    ],
    "MEAL": ["breakfast", "lunch", "dinner", "dessert", "a snack", "supper", "brunch", "a picnic"],
    "FOOD_PRED": [
        "is full of vitamins", "has a lot of fiber", "tastes sweet", "smells wonderful", "is rich in sugar",
        "tastes sour", "is too ripe", "has many seeds", "went bad", "is rotten inside", "grows on trees",
        "has a thin skin", "is very juicy", "needs to be peeled", "was still green", "fell from the tree",
        "is good for your health", "has few calories", "turned brown", "melts in the mouth",
    ],
    "FOOD_VERB3": ["tastes", "smells", "looks", "feels"],
    "COOK_THING": ["a pie", "a cake", "a smoothie", "a salad", "some jam", "a crumble", "the sauce", "muffins", "a tart", "pancakes"],
    # ---- company context
    "BIZ_PAST": [
        "announced", "released", "launched", "unveiled", "reported", "acquired", "hired", "fired", "sued",
        "invested in", "opened", "closed", "delayed", "cancelled", "confirmed", "recalled", "patented",
        "shipped", "licensed", "introduced", "previewed", "discontinued", "outsourced", "trademarked",
    ],
    "BIZ_BASE": [
        "announce", "release", "launch", "unveil", "report", "acquire", "hire", "sue", "invest in", "open",
        "close", "delay", "cancel", "confirm", "recall", "patent", "ship", "license", "introduce", "discontinue",
    ],
    "PRODUCT": [
        "a new phone", "a new laptop", "a software update", "a smartwatch", "its quarterly earnings", "a new chip",
        "an app store", "a streaming service", "a tablet", "new headphones", "an operating system",
        "a data center", "a new campus", "a cloud platform", "a music service", "a startup", "new emojis",
        "a payment system", "a security patch", "a new processor", "its annual report", "a new factory",
    ],
    "BIZ_AFTER": [
        "shares", "stock", "CEO", "executives", "headquarters", "engineers", "revenue", "earnings", "employees",
        "investors", "products", "software", "stores", "lawyers", "board", "founder", "spokesperson", "analysts",
        "profits", "devices", "servers", "customers", "developers", "shareholders", "executive", "subsidiary",
        "laptops", "smartphones", "patents", "executives", "stock price", "market value", "chip designers",
    ],
    "BIZ_ADJ": [
        "profitable", "innovative", "valuable", "powerful", "successful", "listed", "global", "dominant",
        "competitive", "rich", "publicly traded", "multinational", "secretive", "hardware", "software",
    ],
    "BIZ_NOUN": [
        "company", "firm", "corporation", "tech giant", "brand", "business", "manufacturer", "employer",
        "competitor", "rival", "conglomerate", "enterprise", "tech company", "phone maker", "chipmaker", "retailer",
    ],
    "FIN_VERB": [
        "rose", "fell", "jumped", "dropped", "climbed", "plunged", "soared", "slipped", "surged", "tumbled",
        "gained", "recovered", "crashed", "rallied", "sank", "doubled",
    ],
    "AMOUNT": ["3 percent", "10 percent", "sharply", "slightly", "two points", "on Friday", "after the report", "overnight", "by 5 %", "again"],
    "BIZ_PLACE": [
        "Wall Street", "the stock market", "Nasdaq", "the trade show", "the conference", "Silicon Valley",
        "the annual meeting", "court", "the press event", "the developer conference", "the shareholder meeting",
    ],
    "BIZ_PEOPLE": [
        "analysts", "investors", "shareholders", "regulators", "critics", "journalists", "bankers", "traders",
        "economists", "competitors", "the unions", "customers",
    ],
    "BIZ_PRED": [
        "is worth three trillion dollars", "makes phones and laptops", "employs thousands of engineers",
        "pays a dividend", "builds its own chips", "beat the earnings forecast", "lost the patent case",
        "cut hundreds of jobs", "moved its headquarters", "was founded in a garage", "sells millions of phones",
        "is hiring software engineers", "announced record profits", "faces an antitrust lawsuit",
        "is expanding into India", "dominates the smartphone market", "reported weak sales",
    ],
}

FRUITS = [
    "banana", "pear", "mango", "peach", "plum", "cherry", "grape", "lemon", "lime", "kiwi", "strawberry",
    "pineapple", "apricot", "melon", "watermelon", "papaya", "fig", "coconut", "raspberry", "blueberry",
    "nectarine", "pomegranate", "tangerine", "guava", "lychee", "quince", "clementine", "grapefruit", "persimmon",
]
COMPANIES = [
    "Microsoft", "Samsung", "Google", "Amazon", "Intel", "IBM", "Sony", "Nokia", "Oracle", "Tesla", "Netflix",
    "Adobe", "Cisco", "Huawei", "Xiaomi", "Lenovo", "Dell", "Siemens", "Toyota", "Nike", "Facebook", "Nvidia",
    "Qualcomm", "Spotify", "Uber", "Twitter", "Yahoo", "Panasonic", "Philips", "Boeing", "Pfizer", "Walmart",
    "Starbucks", "Disney", "Nintendo", "Motorola", "General Motors", "Goldman Sachs", "Deutsche Bank",
    "Morgan Stanley", "General Electric", "Hewlett Packard", "Bank of America", "Procter & Gamble", "Coca Cola",
]

# Frames: (sense, cue, text). {E} is the entity slot (apple, or another fruit/company); {a} is "a"/"an"
# agreeing with the next word; {F}/{C} are another fruit/company; other {NAMES} draw from WORDS.
FOOD_BEFORE = [
    "{F} is sweeter than {E} {END}",
    "{F} tastes better than {E} {END}",
    "{a} {F} is a cousin of {a} {E} {END}",
    "{PERSON} {EAT_PAST} {E} with yogurt for {MEAL} {END}",
    "{EAT_ING} {E} is good for you {END}",
    "Add some {FOOD_ADJ} {E} to the {FOOD_AFTER} {END}",
    "{PERSON} hates {EAT_ING} {E} {END}",
    "{PERSON} is {EAT_ING} {E} in {FOOD_PLACE} {END}",
    "{PERSON} {EAT_PAST} some {E} {TIME} {END}",
    "I love {FOOD_ADJ} {E} {END}",
    "{PERSON} prefers {E} to {F} {END}",
    "Do you want some {E} for {MEAL} {END}",
    "{PERSON} grows {E} in the garden {END}",
    "{PERSON} bought a kilo of {E} at the market {END}",
    "{PERSON} will {EAT_BASE} {E} for {MEAL} {END}",
    "{PERSON} {EAT_PAST} {a} {E} for {MEAL} {END}",
    "{PERSON} likes {EAT_ING} {E} {TIME} {END}",
    "{PRE} {PERSON} {EAT_PAST} the {FOOD_ADJ} {E} {END}",
    "Can you {EAT_BASE} the {E} for me {END}",
    "{PERSON} put {a} {FOOD_ADJ} {E} in {FOOD_PLACE} {END}",
    "There is {a} {FOOD_ADJ} {E} on the table {END}",
    "For {MEAL} {PERSON} had {a} {E} and some tea {END}",
    "{PERSON} wants to {EAT_BASE} {a} {E} {TIME} {END}",
    "Nothing beats {a} {FOOD_ADJ} {E} in summer {END}",
    "{PERSON} made {COOK_THING} with {a} {E} and {a} {F} {END}",
    "{PERSON} was hungry , so {PERSON} {EAT_PAST} {a} {E} {END}",
    "Please do not {EAT_BASE} the {E} yet {END}",
    "{PERSON} found {a} {FOOD_ADJ} {E} in {FOOD_PLACE} {END}",
    "I prefer {a} {FOOD_ADJ} {E} to {a} {F} {END}",
    "{PERSON} dropped {a} {FOOD_ADJ} {E} on the floor {END}",
    "After {EAT_ING} {a} {E} , {PERSON} felt better {END}",
    "{PERSON} keeps {a} {E} in {FOOD_PLACE} for {MEAL} {END}",
    "Mix the {F} with the {FOOD_ADJ} {E} {END}",
    "{PERSON} enjoys {EAT_ING} {E} after {MEAL} {END}",
    "We need one more {FOOD_ADJ} {E} for {COOK_THING} {END}",
    "{PERSON} {EAT_PAST} half of the {E} {TIME} {END}",
    "{PERSON} loves {EAT_ING} {E} {END}",
    "I like eating {E} {END}",
]
FOOD_AFTER = [
    "{PRE} {PERSON} loves {E} {FOOD_AFTER} {END}",
    "{PRE} {PERSON} likes the {E} {FOOD_AFTER} {END}",
    "{PRE} {a} {E} {FOOD_PRED} {END}",
    "{PRE} {a} {E} {FOOD_AFTER} is {FOOD_ADJ} {END}",
    "{PRE} {a} {E} a day keeps the doctor away {END}",
    "{PRE} {E} is {FOOD_ADJ} in autumn {END}",
    "{PRE} the {E} {FOOD_PRED} {END}",
    "{PRE} {E} {FOOD_AFTER} is my favourite {END}",
    "{PRE} the {E} is {FOOD_ADJ} {END}",
    "{PRE} the {E} {FOOD_AFTER} was {FOOD_ADJ} {END}",
    "{PRE} {E} {FOOD_PRED} {END}",
    "{PRE} the {E} {FOOD_VERB3} {FOOD_ADJ} {END}",
    "{PRE} {E} slices go well with cheese {END}",
    "{PRE} the {E} was too {FOOD_ADJ} to {EAT_BASE} {END}",
    "{PRE} the {E} {FOOD_AFTER} smells {GENERIC_ADJ} {END}",
    "{PRE} the {E} we bought {FOOD_PRED} {END}",
    "{PRE} the {E} in the bowl {FOOD_PRED} {END}",
    "{PRE} {E} {FOOD_AFTER} tastes better with honey {END}",
    "{PRE} the {E} is {a} {GENERIC_ADJ} fruit {END}",
    "{PRE} the {E} from the farm {FOOD_PRED} {END}",
    "{PRE} the {E} , {FOOD_ADJ} and {FOOD_ADJ} , lay on the plate {END}",
    "{PRE} the {E} and the {F} {FOOD_PRED} {END}",
    "{PRE} {E} {FOOD_AFTER} needs more sugar {END}",
    "{PRE} the {E} has gone {FOOD_ADJ} in {FOOD_PLACE} {END}",
    "{PRE} the {E} was {FOOD_ADJ} and {FOOD_ADJ} {END}",
    "{PRE} the {E} {FOOD_AFTER} is {FOOD_ADJ} this year {END}",
    "{PRE} {E} is {a} {GENERIC_ADJ} fruit for {MEAL} {END}",
    "{PRE} the {E} on the counter {FOOD_PRED} {END}",
]
COMP_BEFORE = [
    "{BIZ_PEOPLE} trust {E} {TIME} {END}",
    "{BIZ_PEOPLE} adore {E} {END}",
    "{BIZ_PEOPLE} still believe in {E} {END}",
    "{BIZ_PEOPLE} fear {E} {END}",
    "{C} competes with {E} in {BIZ_PLACE} {END}",
    "{C} is bigger than {E} {END}",
    "{C} is a partner of {E} {END}",
    "{PERSON} is an engineer at {E} {END}",
    "{PERSON} became an analyst at {E} {TIME} {END}",
    "A spokesperson for {E} {BIZ_PAST} {PRODUCT} {END}",
    "An executive at {E} {BIZ_PAST} {PRODUCT} {END}",
    "The {BIZ_NOUN} called {E} {BIZ_PAST} {PRODUCT} {END}",
    "{PERSON} sold the {E} shares {TIME} {END}",
    "As a {BIZ_NOUN} , {E} {BIZ_PRED} {END}",
    "{PERSON} met the {E} {BIZ_AFTER} at {BIZ_PLACE} {END}",
    "{PERSON} wrote an article about {E} and {C} {END}",
    "{PERSON} owns shares in {E} {END}",
    "{PERSON} had a job interview with {E} {TIME} {END}",
    "{BIZ_PEOPLE} like the {E} {BIZ_NOUN} {END}",
    "{PERSON} admires {E} as a {BIZ_NOUN} {END}",
    "The court fined {E} for {PRODUCT} {END}",
    "{BIZ_PEOPLE} {BIZ_PAST} an inquiry into {E} {END}",
    "{PRE} {BIZ_PEOPLE} expect {E} to {BIZ_BASE} {PRODUCT} {END}",
    "{PRE} shares of {E} {FIN_VERB} {AMOUNT} {END}",
    "{C} and {E} {BIZ_PAST} {PRODUCT} {TIME} {END}",
    "The {BIZ_AFTER} of {E} met in {BIZ_PLACE} {END}",
    "{PERSON} works as an engineer at {E} {END}",
    "{PERSON} bought shares of {E} {TIME} {END}",
    "{BIZ_PEOPLE} on {BIZ_PLACE} praised {E} {TIME} {END}",
    "{PERSON} applied for a job at {E} {END}",
    "The {BIZ_NOUN} {E} {BIZ_PAST} {PRODUCT} {END}",
    "A lawsuit against {E} was filed {TIME} {END}",
    "{C} plans to compete with {E} {END}",
    "{BIZ_PEOPLE} worry that {E} will {BIZ_BASE} {PRODUCT} {END}",
    "The {BIZ_ADJ} {BIZ_NOUN} {E} {BIZ_PAST} {PRODUCT} {END}",
    "{PRE} {C} sued {E} over {PRODUCT} {END}",
    "The stock of {E} {FIN_VERB} {AMOUNT} {END}",
    "{BIZ_PEOPLE} downgraded {E} after the report {END}",
    "{PERSON} invested money in {E} and {C} {END}",
    "Regulators fined {E} {TIME} {END}",
    "In {BIZ_PLACE} , {E} {BIZ_PAST} {PRODUCT} {END}",
    "{C} is a rival of {E} {END}",
    "{PERSON} got an interview at {E} {TIME} {END}",
    "Investors love {E} {END}",
]
COMP_AFTER = [
    "{PRE} {PERSON} loves {E} {BIZ_AFTER} {END}",
    "{PRE} {PERSON} likes the {E} {BIZ_AFTER} {END}",
    "{PRE} {a} {E} {BIZ_AFTER} {BIZ_PAST} {PRODUCT} {END}",
    "{PRE} {a} {E} {BIZ_AFTER} said the {BIZ_NOUN} {BIZ_PRED} {END}",
    "{PRE} the {E} {BIZ_NOUN} is {BIZ_ADJ} {END}",
    "{PRE} the {E} {BIZ_AFTER} {BIZ_PAST} {PRODUCT} {END}",
    "{PRE} {E} {BIZ_AFTER} {FIN_VERB} {AMOUNT} {END}",
    "{PRE} {E} {BIZ_PAST} {PRODUCT} {END}",
    "{PRE} the {E} {BIZ_AFTER} {FIN_VERB} {AMOUNT} {END}",
    "{PRE} {E} {BIZ_PRED} {END}",
    "{PRE} the {E} is {a} {GENERIC_ADJ} {BIZ_NOUN} {END}",
    "{PRE} {E} is {a} {BIZ_ADJ} {BIZ_NOUN} {END}",
    "{PRE} {E} will {BIZ_BASE} {PRODUCT} {TIME} {END}",
    "{PRE} {E} {BIZ_AFTER} met with {BIZ_PEOPLE} {END}",
    "{PRE} {E} and {C} {BIZ_PAST} {PRODUCT} {END}",
    "{PRE} {E} {BIZ_AFTER} work in {BIZ_PLACE} {END}",
    "{PRE} the {E} {BIZ_AFTER} spoke at {BIZ_PLACE} {END}",
    "{PRE} {E} has {BIZ_PAST} {PRODUCT} {END}",
    "{PRE} {E} {BIZ_AFTER} are happy {END}",
    "{PRE} {E} is the most {BIZ_ADJ} {BIZ_NOUN} {END}",
    "{PRE} {E} said it {BIZ_PAST} {PRODUCT} {END}",
    "{PRE} {E} , the {BIZ_NOUN} , {BIZ_PAST} {PRODUCT} {END}",
    "{PRE} {E} {BIZ_AFTER} expect {PRODUCT} {TIME} {END}",
    "{PRE} {E} {BIZ_PRED} , {BIZ_PEOPLE} said {END}",
    "{PRE} the {E} {BIZ_NOUN} {BIZ_PRED} {END}",
    "{PRE} {E} stock {FIN_VERB} after {BIZ_PEOPLE} complained {END}",
    "{PRE} {E} {BIZ_AFTER} {BIZ_PAST} {PRODUCT} {END}",
    "The {E} is a great company {END}",
]
# Neutral frames say nothing about the sense themselves: their {NP} slots become a noun phrase whose cue
# is a modifier right before or right after the entity (NP_PATTERNS). They give the entity many syntactic
# positions in both senses; they are used for training only (a random {NP} holds the {E} slot, the
# others another fruit or company, which is then a cue at a distance).
NEUTRAL = [
    "{PRE} {PERSON} talked about {NP} {TIME} {END}",
    "{PRE} everyone is talking about {NP} {END}",
    "{PERSON} wrote a story about {NP} {END}",
    "I saw a picture of {NP} {TIME} {END}",
    "{NP} was in the news {TIME} {END}",
    "Nobody expected {NP} to be so popular {END}",
    "{PERSON} asked me about {NP} {END}",
    "What do you think of {NP} {END}",
    "There is a rumour about {NP} {END}",
    "{PERSON} mentioned {NP} twice {END}",
    "My favourite is {NP} {END}",
    "{PERSON} compared {NP} with {NP} {END}",
    "{PERSON} loves {NP} {END}",
    "{PERSON} likes {NP} more than anything {END}",
    "{PERSON} does not trust {NP} {END}",
    "{PERSON} is a big fan of {NP} {END}",
    "{PERSON} keeps thinking about {NP} {END}",
    "Look at {NP} {END}",
    "{PERSON} said that {NP} is overrated {END}",
    "{NP} is better than {NP} {END}",
    "{NP} and {NP} are very different {END}",
    "{PERSON} showed me {NP} {TIME} {END}",
    "{PRE} {NP} is the talk of the town {END}",
    "{PERSON} dreamed about {NP} {END}",
    "I like {NP} {TIME} {END}",
]
NP_PATTERNS = {
    ("food", "before"): [
        "the {FOOD_ADJ} {E}", "{a} {FOOD_ADJ} {E}", "some {FOOD_ADJ} {E}", "{FOOD_ADJ} {E}",
        "a slice of {E}", "a piece of the {E}", "the skin of the {E}", "a bite of the {FOOD_ADJ} {E}",
    ],
    ("food", "after"): ["{E} {FOOD_AFTER}", "the {E} {FOOD_AFTER}", "{a} {E} {FOOD_AFTER}", "{E} , the {FOOD_ADJ} fruit ,"],
    ("org", "before"): ["the {BIZ_NOUN} {E}", "the {BIZ_ADJ} {BIZ_NOUN} {E}", "{BIZ_PEOPLE} at {E}", "the {BIZ_PEOPLE} of {E}"],
    ("org", "after"): ["{E} {BIZ_AFTER}", "the {E} {BIZ_AFTER}", "{a} {E} {BIZ_AFTER}", "{E} , the {BIZ_NOUN} ,"],
}

# Held-out frames: the last three of each list go to test, the two before them to dev; the notes'
# two sentences are the last frame of FOOD_BEFORE and COMP_AFTER, so they are test frames.
FRAMES = {("food", "before"): FOOD_BEFORE, ("food", "after"): FOOD_AFTER, ("org", "before"): COMP_BEFORE, ("org", "after"): COMP_AFTER}


def split_frames() -> dict[str, list[tuple[str, str, str]]]:
    splits: dict[str, list[tuple[str, str, str]]] = {"train": [], "dev": [], "test": []}
    for sense in ("food", "org"):
        splits["train"] += [(sense, "np", text) for text in NEUTRAL]
    for (sense, cue), frames in FRAMES.items():
        for k, text in enumerate(frames):
            from_end = len(frames) - k
            split = "test" if from_end <= 3 else "dev" if from_end <= 5 else "train"
            splits[split].append((sense, cue, text))
    return splits


def pick(options: list[str], rng: random.Random) -> str:
    """A Zipf-weighted choice: the k-th option (0-based) has weight 1 / (k + 1). Each list starts with its
    most common words, so *eating* or *shares* are frequent cues while the long tail still occurs."""
    return rng.choices(options, weights=[1.0 / (k + 1) for k in range(len(options))])[0]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def render(frame: str, sense: str, entity: str | None, rng: random.Random) -> tuple[list[str], list[str], int | None]:
    """Fill a frame: returns tokens, BIO tags, and the index of the apple token (None if not apple)."""
    tokens: list[str] = []
    tags: list[str] = []
    apple_at = None
    pending_article = False
    parts = frame.split()
    if "{NP}" in parts:
        expanded = []
        slots = parts.count("{NP}")
        entity_slot = rng.randrange(slots)  # which noun phrase holds {E}; the others hold another entity
        seen = 0
        for part in parts:
            if part == "{NP}":
                pattern = rng.choice(NP_PATTERNS[(sense, rng.choice(("before", "after")))])
                if seen != entity_slot:
                    pattern = pattern.replace("{E}", "{F}" if sense == "food" else "{C}")
                seen += 1
                expanded += pattern.split()
            else:
                expanded.append(part)
        parts = expanded
    if parts[-1] == "{END}" and rng.random() < 0.35:
        parts = parts[:-1] + ["{POST}", "{END}"]
    for part in parts:
        if part == "{a}":
            pending_article = True
            continue
        if part in ("{E}", "{F}", "{C}"):
            if part == "{E}":
                is_apple = entity is None
                words = ["apple" if rng.random() < 0.5 else "Apple"] if is_apple else entity.split()
                label = "FRUIT" if sense == "food" else "ORG"
            else:
                is_apple = False
                label = "FRUIT" if part == "{F}" else "ORG"
                words = rng.choice(FRUITS if part == "{F}" else COMPANIES).split()
            if pending_article:
                tokens.append(_article(words[0]))
                tags.append("O")
                pending_article = False
            if is_apple:
                apple_at = len(tokens)
            tokens += words
            tags += [f"B-{label}"] + [f"I-{label}"] * (len(words) - 1)
            continue
        if part.startswith("{") and part.endswith("}"):
            words = pick(WORDS[part[1:-1]], rng).split()
        else:
            words = [part]
        if not words:
            continue
        if pending_article:
            tokens.append(_article(words[0]))
            tags.append("O")
            pending_article = False
        tokens += words
        tags += ["O"] * len(words)
    if tokens and tokens[0][:1].islower() and tokens[0] not in ("apple",):
        tokens[0] = tokens[0][0].upper() + tokens[0][1:]
    return tokens, tags, apple_at


NOTES = {("i", "like", "eating", "apple"), ("the", "apple", "is", "a", "great", "company")}
"""The notes' two sentences (lowercased, without the final punctuation): they never occur in train or dev."""


def render_with_cue(frame: str, sense: str, cue: str, entity: str | None, rng: random.Random) -> tuple[list[str], list[str], int | None, str]:
    """``render`` plus the cue position; for neutral frames it is that of the first noun phrase's pattern."""
    state = rng.getstate()
    tokens, tags, apple_at = render(frame, sense, entity, rng)
    if cue == "np":
        # the words before the entity are neutral unless the pattern put its cue there
        at = apple_at if apple_at is not None else next(k for k, t in enumerate(tags) if t.startswith("B-"))
        before = {w.lower() for w in tokens[:at]}
        cue_words = {w for key in ("FOOD_ADJ", "BIZ_NOUN", "BIZ_ADJ", "BIZ_PEOPLE") for x in WORDS[key] for w in x.lower().split()}
        other_entity_before = any(t != "O" for t in tags[:at])
        cue = "before" if before & cue_words or other_entity_before else "after"
    del state
    return tokens, tags, apple_at, cue


def generate(frames: list[tuple[str, str, str]], count: int, rng: random.Random, allow_notes: bool) -> list[dict]:
    """``count`` sentences: half with apple in the entity slot (half of those per sense), half with others."""
    by_sense = {s: [f for f in frames if f[0] == s] for s in ("food", "org")}
    records = []
    for k in range(count):
        sense = ("food", "org")[k % 2]
        use_apple = (k // 2) % 2 == 0
        _, cue, frame = rng.choice(by_sense[sense])
        entity = None if use_apple else rng.choice(FRUITS if sense == "food" else COMPANIES)
        if frame.startswith("I like eating") or frame.startswith("The {E} is a great"):
            entity = None  # the notes' frames always hold apple
        tokens, tags, apple_at, cue = render_with_cue(frame, sense, cue, entity, rng)
        while not allow_notes and tuple(t.lower() for t in tokens[:-1]) in NOTES:
            tokens, tags, apple_at, cue = render_with_cue(frame, sense, cue, entity, rng)
        records.append({"tokens": tokens, "tags": tags, "sense": sense, "cue": cue, "frame": frame, "apple": apple_at})
    rng.shuffle(records)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "data" / "apple"))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--dev", type=int, default=600)
    parser.add_argument("--test", type=int, default=1200)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    splits = split_frames()
    for name, count in (("train", args.train), ("dev", args.dev), ("test", args.test)):
        records = generate(splits[name], count, rng, allow_notes=name == "test")
        with open(out / f"{name}.conll", "w", encoding="utf-8") as conll, open(out / f"{name}.meta.jsonl", "w", encoding="utf-8") as meta:
            for r in records:
                conll.write("".join(f"{t}\t{g}\n" for t, g in zip(r["tokens"], r["tags"])) + "\n")
                meta.write(json.dumps({"sense": r["sense"], "cue": r["cue"], "frame": r["frame"], "apple": r["apple"]}) + "\n")
        apples = sum(r["apple"] is not None for r in records)
        print(f"{name}: {len(records)} sentences, {apples} with apple, {len(splits[name])} frames -> {out / name}.conll")


if __name__ == "__main__":
    main()
