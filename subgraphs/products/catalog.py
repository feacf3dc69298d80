"""Deterministic, real-looking demo products for `myshop seed` and the search benchmark."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from shared.money import Money

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class CatalogItem:
    sku: str
    name: str
    description: str
    price_amount: int  # minor units of `currency`
    currency: str
    category: str

    @property
    def price(self) -> Money:
        return Money(self.price_amount, self.currency)


@dataclass(frozen=True, slots=True)
class _ProductLine:
    """A family of products whose adjectives, variants, prices and blurbs fit every noun in it."""

    nouns: tuple[str, ...]
    adjectives: tuple[str, ...]
    variants: tuple[str, ...]
    price_range: tuple[int, int]  # whole US dollars, both ends included
    # Opening sentences of a description; they may use {brand} and {noun}. A verb right after {noun}
    # has to agree with every noun of the line, and some are plural ("earbuds", "running shoes").
    blurbs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Category:
    name: str
    sku_prefix: str
    brands: tuple[str, ...]
    closing_sentences: tuple[str, ...]
    lines: tuple[_ProductLine, ...]


def _line(
    nouns: str, adjectives: str, variants: str, price_range: tuple[int, int], *blurbs: str
) -> _ProductLine:
    """Word lists are written "a|b|c" to keep the tables below one product line per screenful."""
    return _ProductLine(
        tuple(nouns.split("|")), tuple(adjectives.split("|")), tuple(variants.split("|")), price_range, blurbs
    )


def _category(
    name: str, sku_prefix: str, brands: str, closing_sentences: tuple[str, ...], *lines: _ProductLine
) -> _Category:
    return _Category(name, sku_prefix, tuple(brands.split("|")), closing_sentences, lines)


_CATEGORIES: tuple[_Category, ...] = (
    _category(
        "Electronics",
        "ELE",
        "Voltra|Nexon|Lumio|Arcwave|Quantix|Sonique|Pixelcraft|Helix|Orbitron|Zentek",
        (
            "Ships with a two-year warranty and free software updates.",
            "Includes a USB-C cable and a quick start guide.",
            "Rated highly by customers for build quality and reliability.",
            "Arrives in plastic-free, fully recyclable packaging.",
        ),
        _line(
            "Headphones|Earbuds|Headset",
            "Wireless|Noise-Cancelling|Bluetooth|Over-Ear|Sport",
            "Black|White|Midnight Blue|Rose Gold|Graphite",
            (29, 349),
            "Wireless {noun} with deep bass, clear calls and up to 30 hours of battery life.",
            "Among the most comfortable wireless headphones we carry: pairs with your phone over Bluetooth "
            "in seconds.",
        ),
        _line(
            "Speaker|Soundbar|Radio",
            "Portable|Waterproof|Smart|Compact",
            "Black|Slate Grey|Ocean Blue|Sand|Forest Green",
            (35, 449),
            "A {noun} with room-filling sound, rich bass and a built-in microphone for hands-free calls.",
            "Stream music over Wi-Fi or Bluetooth from any phone, with clear sound at any volume.",
        ),
        _line(
            "Charger|Power Bank|Charging Cable",
            "Fast|USB-C|Magnetic|Travel",
            "Black|White|Graphite|Twin Pack|Blue",
            (12, 89),
            "Charges phones, tablets and laptops quickly and safely, with protection against overheating.",
            "A reliable {noun} for your desk or travel bag, compatible with USB-C phones and laptops.",
        ),
        _line(
            "Smartwatch|Fitness Tracker",
            "GPS|Waterproof|Slim|Sport|Active",
            "40mm|44mm|Black|Silver|Rose Gold",
            (49, 399),
            "Tracks steps, heart rate, sleep and workouts, with built-in GPS and a bright always-on display.",
            "A waterproof {noun} with a week of battery life and notifications from your phone.",
        ),
        _line(
            "Webcam|Keyboard|Mouse",
            "Wireless|Ergonomic|Compact|Pro|Low-Profile",
            "Black|White|Space Grey|Silver|Mint",
            (19, 199),
            "A {noun} for the home office and gaming that works out of the box over USB or Bluetooth.",
            "Built for long working days, with support for Windows, macOS and Linux computers.",
        ),
    ),
    _category(
        "Books",
        "BOO",
        "Harbor Press|Lantern Books|Quill & Ink|Northwind Publishing|Bluebell Editions|Cedar House|"
        "Paperkite|Meridian Books|Foxglove Press|Compass & Co",
        (
            "Printed on FSC-certified paper.",
            "Includes an index and a list of further reading.",
            "A thoughtful gift for readers of all ages.",
            "Signed bookplates are available while stocks last.",
        ),
        _line(
            "Cookbook|Baking Book|Recipe Collection",
            "Vegetarian|Italian|Weeknight|Family|Mediterranean",
            "Hardcover|Paperback|Spiral-Bound|Illustrated Edition",
            (12, 45),
            "Over 120 tested recipes for everyday cooking, from quick breakfasts to slow Sunday dinners.",
            "A cookbook with step-by-step photos, seasonal ingredients and tips for cooking with kids.",
        ),
        _line(
            "Mystery Novel|Thriller|Detective Novel",
            "Gripping|Bestselling|Award-Winning|Nordic|Classic",
            "Hardcover|Paperback|Large Print|Collector's Edition",
            (9, 32),
            "A page-turning mystery set in a small coastal town where nothing is quite what it seems.",
            "A detective races against time in a twisty novel that readers could not put down.",
        ),
        _line(
            "Field Guide|Travel Guide|Atlas",
            "Illustrated|Pocket|Complete|Essential",
            "Hardcover|Paperback|Second Edition|Third Edition",
            (14, 60),
            "An illustrated {noun} with detailed maps, hiking routes and tips for every season of travel.",
            "Compact enough for a backpack, with national parks, trails, wildlife and camping spots.",
        ),
        _line(
            "Picture Book|Bedtime Story Book|Activity Book",
            "Illustrated|Rhyming|Interactive|Classic",
            "Board Book|Hardcover|Paperback|Gift Set",
            (6, 25),
            "A colorful book for kids aged 3 to 7, perfect for bedtime reading.",
            "Bright illustrations and gentle rhymes make the {brand} {noun} a favorite with young readers.",
        ),
        _line(
            "Productivity Book|Business Book|Self-Help Guide",
            "Practical|Bestselling|Concise|Essential",
            "Hardcover|Paperback|Workbook Edition|Audiobook Bundle",
            (12, 35),
            "Practical advice on habits, focus and time management from a bestselling author.",
            "A concise read about building better habits, leading teams and starting a small business.",
        ),
    ),
    _category(
        "Home & Kitchen",
        "HOM",
        "Aurora|Hearthstone|Copperleaf|Maison Verte|Kitchenly|Oakhaven|Brightside|Nordhem|Casa Bella|Elmwood",
        (
            "Backed by a five-year guarantee.",
            "Arrives in plastic-free packaging.",
            "Makes a great housewarming gift.",
            "Designed for everyday use and built to last.",
        ),
        _line(
            "French Press|Pour-Over Coffee Maker|Espresso Machine|Coffee Grinder",
            "Stainless Steel|Glass|Classic|Double-Walled|Barista",
            "350ml|1L|Matte Black|Brushed Copper|Polished Chrome",
            (19, 299),
            "Brews rich, full-bodied coffee in minutes, with a fine mesh filter that keeps grounds out of "
            "your cup.",
            "Make cafe-quality coffee at home: the {brand} {noun} is easy to clean and keeps coffee hot.",
        ),
        _line(
            "Chef's Knife|Knife Set|Cutting Board",
            "Japanese Steel|Forged|Bamboo|Professional",
            "8-Inch|3-Piece|5-Piece|Walnut|Black",
            (15, 249),
            "A razor-sharp companion for slicing, dicing and chopping vegetables, meat and herbs.",
            "Balanced, durable and easy to care for: a kitchen essential for home cooks and chefs alike.",
        ),
        _line(
            "Frying Pan|Saucepan|Dutch Oven|Stock Pot",
            "Non-Stick|Cast Iron|Stainless Steel|Enameled|Ceramic",
            "20cm|24cm|28cm|Red|Sage Green",
            (24, 229),
            "Heats evenly on gas, electric and induction stoves and is oven safe for slow cooking.",
            "Cookware built to last: sears steak, simmers sauces and bakes bread with ease.",
        ),
        _line(
            "Bath Towel Set|Duvet Cover|Throw Blanket",
            "Organic Cotton|Linen|Soft|Waffle-Knit",
            "White|Ivory|Charcoal|Dusty Rose|Sage|Navy",
            (25, 180),
            "Soft, breathable and machine washable, made from responsibly sourced cotton.",
            "Adds warmth and texture to a bedroom or living room and gets softer with every wash.",
        ),
        _line(
            "Water Bottle|Travel Mug|Lunch Box",
            "Insulated|Stainless Steel|Leak-Proof|BPA-Free",
            "500ml|750ml|1L|Matte Black|Sky Blue",
            (12, 49),
            "Keeps drinks cold for 24 hours or hot for 12, with a leak-proof lid for your bag.",
            "A reusable {noun} for coffee, tea or water at the office, the gym or on the trail.",
        ),
    ),
    _category(
        "Outdoors",
        "OUT",
        "Summit Ridge|Trailcraft|Northpeak|Wildfern|Alpenglow|Basecamp Co|Driftwood|Timberline|Cascade|"
        "Evergreen Gear",
        (
            "Tested in the mountains by our gear team.",
            "Backed by a lifetime repair program.",
            "Made with recycled materials.",
            "A great pick for hiking, camping and travel.",
        ),
        _line(
            "Jacket|Rain Jacket|Shell Jacket|Parka",
            "Waterproof|Insulated|Packable|Windproof|Lightweight",
            "Black|Olive|Navy|Burnt Orange|Storm Grey",
            (59, 399),
            "A waterproof jacket with taped seams, a breathable membrane and an adjustable hood for wet "
            "days on the trail.",
            "Stay dry and warm: the {brand} {noun} packs into its own pocket and is waterproof and "
            "windproof.",
        ),
        _line(
            "Tent|Backpacking Tent|Camping Tent",
            "2-Person|4-Person|Ultralight|Family|Dome",
            "Green|Sand|Orange|Grey",
            (89, 599),
            "A freestanding tent that pitches in minutes, with two doors, a full rain fly and room for gear.",
            "Built for camping in wind and rain, yet light enough for backpacking trips.",
        ),
        _line(
            "Sleeping Bag|Sleeping Pad|Camping Hammock",
            "Ultralight|Three-Season|Insulated|Compact",
            "Regular|Long|Green|Navy|Orange",
            (29, 299),
            "Stay warm on cold nights under the stars; packs down small for camping and backpacking.",
            "A comfortable night outdoors, from summer festivals to frosty mountain camping trips.",
        ),
        _line(
            "Hiking Backpack|Daypack|Travel Backpack",
            "Lightweight|Waterproof|Ventilated|Adjustable",
            "20L|30L|45L|Black|Teal",
            (25, 249),
            "A comfortable hiking backpack with a padded hip belt, a hydration sleeve and a rain cover.",
            "Organized pockets, breathable straps and a durable, water-resistant fabric for every trail.",
        ),
        _line(
            "Headlamp|Camping Lantern|Flashlight",
            "Rechargeable|LED|Waterproof|Compact",
            "300 Lumen|600 Lumen|1000 Lumen|Black|Orange",
            (15, 89),
            "A bright LED {noun} with several light modes, USB-C charging and a battery that lasts all "
            "weekend.",
            "Waterproof and tough, lighting the way on night hikes and camping trips.",
        ),
    ),
    _category(
        "Toys",
        "TOY",
        "Playful Pines|Tiny Titans|Wonderworks|Kiddo Lab|Bramble Bear|Starlight Toys|Pebble & Pip|Funforge|"
        "Bright Minds|Marble Moon",
        (
            "Recommended for ages 3 and up.",
            "Meets EN71 and ASTM toy safety standards.",
            "Educational toys for kids who love to learn through play.",
            "Batteries are included where needed.",
        ),
        _line(
            "Building Blocks Set|Construction Set|Marble Run",
            "Creative|Magnetic|Wooden|STEM|Deluxe",
            "100-Piece|250-Piece|500-Piece|Starter Kit",
            (19, 119),
            "An open-ended {noun} that builds creativity, problem solving and fine motor skills.",
            "Kids build towers, vehicles and castles, then store every piece in the included box.",
        ),
        _line(
            "Plush Bear|Stuffed Animal|Plush Bunny",
            "Soft|Cuddly|Giant|Classic",
            "Small|Medium|Large|Honey|Cream",
            (9, 59),
            "A soft plush toy with embroidered eyes, safe for children of all ages and machine washable.",
            "The {brand} {noun} is a cuddly bedtime friend and a favorite gift for newborns and toddlers.",
        ),
        _line(
            "Board Game|Card Game|Jigsaw Puzzle",
            "Family|Strategy|Cooperative|Party|Classic",
            "Travel Edition|Deluxe Edition|Anniversary Edition|Standard Edition",
            (12, 69),
            "A family game night favorite: easy to learn, quick to play and fun for kids and adults.",
            "Two to six players, twenty minutes a round, and a new challenge every time you play.",
        ),
        _line(
            "Remote Control Car|Drone|Robot Kit",
            "Rechargeable|Off-Road|Programmable|Mini",
            "Red|Blue|Yellow|Green|Black",
            (25, 199),
            "Rechargeable batteries, a simple controller and sturdy parts that survive bumps and crashes.",
            "A {noun} that teaches kids the basics of coding and engineering through play.",
        ),
        _line(
            "Art Set|Craft Kit|Play Dough Set",
            "Washable|Deluxe|Creative|Rainbow",
            "Small|Large|Gift Box|Travel Size",
            (9, 49),
            "Everything a young artist needs for painting, drawing and crafting on a rainy afternoon.",
            "Non-toxic, washable colors that come off hands, clothes and tables with soap and water.",
        ),
    ),
    _category(
        "Beauty",
        "BEA",
        "Lumiere|Velvet & Vine|Pure Bloom|Glowlab|Serenity Skin|Petal & Pearl|Botanica|Dewdrop|Aria Beauty|"
        "Silk Theory",
        (
            "Vegan and cruelty-free.",
            "Free from parabens and sulfates.",
            "Packaged in recycled plastic.",
            "Suitable for sensitive skin.",
        ),
        _line(
            "Face Moisturizer|Night Cream|Face Serum",
            "Hydrating|Vitamin C|Hyaluronic Acid|Fragrance-Free|Retinol",
            "30ml|50ml|100ml|Travel Size",
            (12, 89),
            "A lightweight formula with hyaluronic acid that hydrates dry skin and leaves it glowing.",
            "Dermatologist tested and gentle on sensitive skin; absorbs quickly with no greasy feel.",
        ),
        _line(
            "Shampoo|Conditioner|Hair Mask",
            "Argan Oil|Volumizing|Sulfate-Free|Repairing|Coconut",
            "250ml|500ml|1L|Refill Pack",
            (6, 39),
            "Gently cleans and nourishes hair with natural oils, leaving it soft, shiny and easy to style.",
            "Repairs dry, damaged hair and protects color, with a fresh scent that lasts all day.",
        ),
        _line(
            "Lipstick|Lip Balm|Lip Gloss",
            "Matte|Tinted|Long-Lasting|Hydrating",
            "Ruby Red|Nude|Coral|Berry|Rose",
            (6, 38),
            "Rich, long-lasting color with shea butter that keeps lips soft and hydrated.",
            "A creamy {noun} in a shade that flatters every skin tone, from morning to night.",
        ),
        _line(
            "Eau de Parfum|Body Mist|Perfume Oil",
            "Floral|Citrus|Woody|Fresh",
            "10ml|30ml|50ml|100ml",
            (15, 149),
            "Notes of bergamot, jasmine and warm sandalwood in a fragrance that lingers all day.",
            "A light, fresh scent for everyday wear, in a bottle small enough for your bag.",
        ),
        _line(
            "Body Lotion|Hand Cream|Body Wash",
            "Shea Butter|Lavender|Unscented|Nourishing|Oat",
            "75ml|200ml|400ml|Twin Pack",
            (5, 35),
            "Nourishing care for dry skin, made with shea butter, oat extract and vitamin E.",
            "A gentle, everyday {noun} that leaves skin soft, smooth and lightly scented.",
        ),
    ),
    _category(
        "Sports",
        "SPO",
        "Velocity|Apex Athletics|Stride|Pulse|Ironclad|Fleetfoot|Kinetic|Vantage|Titan Sport|Swiftline",
        (
            "Trusted by athletes and weekend warriors alike.",
            "Backed by a 90-day performance guarantee.",
            "Designed with input from professional coaches.",
            "Ideal for training at home, at the gym or outdoors.",
        ),
        _line(
            "Running Shoes|Trail Running Shoes|Training Shoes",
            "Lightweight|Cushioned|Breathable|Responsive",
            "Black/White|Neon Yellow|Navy|Grey|Coral",
            (59, 189),
            "Cushioned running shoes with a breathable mesh upper and a grippy outsole for road and trail.",
            "Light and responsive {noun} made for daily training, tempo runs and race day.",
        ),
        _line(
            "Yoga Mat|Exercise Mat|Foam Roller",
            "Non-Slip|Extra-Thick|Eco|Travel",
            "Purple|Teal|Charcoal|Coral|Black",
            (15, 89),
            "Made for yoga, pilates and home workouts, with a non-slip surface and an easy-carry strap.",
            "Cushions knees and joints during yoga, stretching and recovery sessions.",
        ),
        _line(
            "Dumbbell Set|Kettlebell|Resistance Bands",
            "Adjustable|Cast Iron|Neoprene|Home Gym",
            "5kg|10kg|20kg|Starter Set",
            (19, 299),
            "Strength training at home: squats, presses, rows and swings without a gym membership.",
            "A compact way to build strength, with a secure grip and a finish that protects your floor.",
        ),
        _line(
            "Football|Basketball|Volleyball",
            "Official Size|Training|Match|Indoor|Outdoor",
            "Size 3|Size 4|Size 5|Size 7",
            (15, 79),
            "A durable {noun} with a soft touch and consistent bounce for training and match play.",
            "Holds its shape and air through seasons of practice on court, grass or pavement.",
        ),
        _line(
            "Cycling Helmet|Bike Light Set|Cycling Gloves",
            "Aero|Ventilated|Reflective|Commuter",
            "Small|Medium|Large|Matte Black|White",
            (19, 159),
            "Stay safe and visible on the road, from the daily bike commute to weekend rides.",
            "Reflective details and a comfortable fit for cycling in traffic, rain or darkness.",
        ),
    ),
    _category(
        "Grocery",
        "GRO",
        "Green Valley|Sunny Acres|Harvest Moon|Golden Grove|Mountain Spring|Farmhouse Pantry|"
        "Little Orchard|Bayleaf|True North Foods|Olive & Thyme",
        (
            "Non-GMO and produced in small batches.",
            "Store in a cool, dry place.",
            "Packed in a facility that also handles nuts.",
            "Certified kosher.",
        ),
        _line(
            "Coffee Beans|Ground Coffee|Espresso Roast",
            "Organic|Single-Origin|Dark Roast|Medium Roast|Fair Trade",
            "250g|500g|1kg|Decaf",
            (7, 39),
            "Freshly roasted coffee with notes of chocolate, caramel and toasted nuts.",
            "Ethically sourced Arabica coffee, roasted in small batches for a smooth, balanced cup.",
        ),
        _line(
            "Green Tea|Herbal Tea|Black Tea|Chai",
            "Organic|Loose Leaf|Premium|Fair Trade",
            "20 Tea Bags|50 Tea Bags|100g Tin|250g Pouch",
            (4, 24),
            "Organic tea leaves picked at high altitude for a bright, fragrant cup.",
            "A calming blend to brew hot or iced, morning or evening.",
        ),
        _line(
            "Extra Virgin Olive Oil|Balsamic Vinegar|Pasta Sauce",
            "Organic|Italian|Artisan|Premium",
            "250ml|500ml|750ml|1L",
            (5, 29),
            "Made in small batches from Mediterranean ingredients for salads, pasta and roasted vegetables.",
            "A pantry staple with a bold, fresh flavor that home cooks reach for every day.",
        ),
        _line(
            "Granola|Oatmeal|Muesli",
            "Organic|Gluten-Free|Honey Almond|High-Protein|Berry",
            "400g|750g|1kg|Family Pack",
            (4, 15),
            "A wholesome breakfast of whole grain oats, nuts and dried fruit, great with milk or yogurt.",
            "Crunchy, lightly sweetened and packed with fiber to keep you full until lunch.",
        ),
        _line(
            "Dark Chocolate Bar|Trail Mix|Protein Bars",
            "Organic|Sea Salt|Salted Caramel|Vegan",
            "100g|6-Pack|12-Pack|Gift Box",
            (3, 29),
            "A satisfying snack for the office, the trail or the afternoon slump.",
            "Made with real cocoa, nuts and no artificial flavors.",
        ),
    ),
    _category(
        "Fashion",
        "FAS",
        "Marlowe|Wren & Co|Avenue Nine|Indigo Lane|Hollis|Sable & Stone|Juniper Row|Kestrel|Linden|Verity",
        (
            "Free returns within 60 days.",
            "Ethically made in Portugal.",
            "True to size; see the size guide for measurements.",
            "Part of our responsibly sourced collection.",
        ),
        _line(
            "T-Shirt|Polo Shirt|Henley",
            "Organic Cotton|Slim-Fit|Relaxed-Fit|Classic|Striped",
            "White|Black|Heather Grey|Navy|Sage",
            (15, 69),
            "A wardrobe essential in soft, breathable cotton that keeps its shape wash after wash.",
            "Easy to dress up or down, with a comfortable fit and reinforced seams.",
        ),
        _line(
            "Jeans|Chinos|Trousers",
            "Slim-Fit|Straight-Leg|Stretch|Relaxed",
            "Indigo|Black|Stone|Olive|Charcoal",
            (39, 149),
            "Cut from durable stretch cotton for all-day comfort at work or on the weekend.",
            "Modern {noun} with a mid-rise waist, deep pockets and a tapered leg.",
        ),
        _line(
            "Leather Belt|Wallet|Crossbody Bag|Tote Bag",
            "Italian Leather|Vegan Leather|Minimalist|Handcrafted",
            "Tan|Black|Cognac|Burgundy",
            (25, 249),
            "Crafted from supple leather with solid brass hardware that ages beautifully.",
            "A timeless accessory with clean lines and room for everything you carry daily.",
        ),
        _line(
            "Sneakers|Loafers|Chelsea Boots",
            "Leather|Suede|Canvas|Waterproof",
            "Black|White|Tan|Navy|Brown",
            (49, 229),
            "Comfortable {noun} with a cushioned footbed and a durable rubber sole for city walking.",
            "Classic shoes for every season, made by hand from premium materials.",
        ),
        _line(
            "Wool Sweater|Cardigan|Hoodie",
            "Merino|Cashmere-Blend|Cable-Knit|Oversized",
            "Oatmeal|Navy|Forest Green|Camel|Black",
            (35, 189),
            "A cozy knit for cold mornings, soft against the skin and warm without bulk.",
            "Layer it over a shirt or wear it alone; a cold-weather staple in a relaxed cut.",
        ),
    ),
    _category(
        "Garden",
        "GAR",
        "Greenthumb|Bloomfield|Rootwell|Meadowlark|Fernhill|Sunbeam Gardens|Potting Shed Co|Thornbury|"
        "Willowbrook|Hedgerow",
        (
            "Weather resistant and built for years of outdoor use.",
            "Great for patios, balconies and backyard gardens.",
            "Backed by a three-year guarantee.",
            "Designed by gardeners, for gardeners.",
        ),
        _line(
            "Garden Hose|Expandable Hose|Hose Reel",
            "Kink-Free|Heavy-Duty|Lightweight|Flexible",
            "25ft|50ft|75ft|100ft",
            (19, 89),
            "A kink-free garden hose with brass fittings and a spray nozzle with seven watering patterns.",
            "Water lawns, flower beds and vegetable gardens with ease; coils neatly for storage.",
        ),
        _line(
            "Pruning Shears|Garden Trowel|Hand Rake",
            "Ergonomic|Stainless Steel|Carbon Steel|Professional",
            "Red|Green|Orange|Black",
            (9, 59),
            "A sharp, rust-resistant garden tool with a comfortable grip for pruning, planting and weeding.",
            "Built for years of gardening, from spring planting to autumn cleanup.",
        ),
        _line(
            "Planter|Raised Garden Bed|Plant Pot",
            "Ceramic|Cedar|Self-Watering|Galvanized",
            "Small|Medium|Large|Set of 3",
            (15, 199),
            "Grow herbs, vegetables and flowers on a patio, balcony or windowsill, with drainage built in.",
            "A handsome home for houseplants and garden plants alike, indoors or out.",
        ),
        _line(
            "Bird Feeder|Solar Garden Lights|Wind Chime",
            "Weatherproof|Decorative|Hanging|Rustic",
            "Copper|Black|Green|White",
            (12, 79),
            "Brings life and color to the backyard, and stands up to rain, wind and sun.",
            "A charming finishing touch for the garden, patio or front porch.",
        ),
        _line(
            "Lawn Seed|Plant Food|Potting Soil",
            "Organic|All-Purpose|Premium|Peat-Free",
            "1kg|2.5kg|5kg|10kg",
            (6, 45),
            "Feeds roots and soil for greener lawns, healthier vegetables and more flowers.",
            "A gardener's staple for seed starting, repotting and feeding plants through the season.",
        ),
    ),
    _category(
        "Office",
        "OFF",
        "Inkwell|Paperline|Deskmate|Ledger & Co|Monarch Office|Scribe|Foldwell|Clarity|Ashford|Notable",
        (
            "Ideal for home offices, schools and studios.",
            "Made from recycled and responsibly sourced materials.",
            "Backed by a two-year warranty.",
            "Loved by students, writers and remote workers.",
        ),
        _line(
            "Notebook|Journal|Planner",
            "Leather-Bound|Dotted|Lined|Undated|Recycled",
            "A5|A4|Pocket|Black|Navy",
            (8, 45),
            "Thick, fountain-pen-friendly paper, a ribbon marker and a lay-flat binding.",
            "Plan your week, take meeting notes or keep a journal, with 192 numbered pages.",
        ),
        _line(
            "Desk Lamp|Floor Lamp|Monitor Light",
            "LED|Dimmable|Adjustable|Architect",
            "Black|White|Brass|Silver",
            (25, 189),
            "An LED desk lamp with adjustable brightness and color temperature to reduce eye strain.",
            "Energy-efficient, flicker-free light for your workspace or reading corner.",
        ),
        _line(
            "Office Chair|Desk Chair|Standing Desk",
            "Ergonomic|Mesh|Adjustable|Executive",
            "Black|Grey|White|Walnut",
            (89, 699),
            "An ergonomic office chair with lumbar support, adjustable armrests and breathable mesh.",
            "Sit or stand comfortably through long working days at home or in the office.",
        ),
        _line(
            "Gel Pens|Fountain Pen|Highlighters",
            "Fine-Point|Refillable|Assorted|Smooth-Writing",
            "10-Pack|24-Pack|Black|Blue",
            (4, 89),
            "Smooth, smudge-free writing for notes, journaling and sketching.",
            "Quick-drying ink in vivid colors that will not bleed through paper.",
        ),
        _line(
            "Desk Organizer|File Cabinet|Bookshelf",
            "Bamboo|Metal|Stackable|Minimalist",
            "Black|White|Natural|Grey",
            (15, 249),
            "Keeps documents, stationery and cables tidy on your desk or in the office.",
            "Sturdy storage that brings order to a home office, classroom or studio.",
        ),
    ),
    _category(
        "Pet Supplies",
        "PET",
        "Happy Paws|Whisker & Wag|Furbaby|Barkley|Tailwind|Good Boy Co|Purrfect|Kibble & Co|"
        "Fetch & Friends|Pawsome",
        (
            "Made with pet-safe, non-toxic materials.",
            "Recommended by veterinarians.",
            "Easy to clean and built to last.",
            "Satisfaction guaranteed, or your money back.",
        ),
        _line(
            "Dog Food|Puppy Food|Cat Food",
            "Grain-Free|Salmon|Chicken & Rice|Organic|Senior",
            "2kg|5kg|12kg|Trial Pack",
            (9, 89),
            "Complete, balanced nutrition with real meat as the first ingredient.",
            "A vet-formulated recipe that supports healthy digestion, joints and a shiny coat.",
        ),
        _line(
            "Dog Bed|Cat Bed|Pet Blanket",
            "Orthopedic|Memory Foam|Washable|Calming",
            "Small|Medium|Large|Extra Large",
            (19, 149),
            "A cozy bed with a removable, machine washable cover and a non-slip base.",
            "Supportive cushioning for restful sleep, especially for older pets with sore joints.",
        ),
        _line(
            "Dog Leash|Dog Collar|Harness",
            "Reflective|Padded|Waterproof|Adjustable",
            "Small|Medium|Large|Red|Navy",
            (9, 59),
            "Comfortable and secure for daily walks, with reflective stitching for evening outings.",
            "Strong hardware and soft padding for dogs that pull on the leash.",
        ),
        _line(
            "Cat Scratching Post|Cat Tree|Cat Toy Set",
            "Sisal|Multi-Level|Interactive|Compact",
            "Grey|Beige|Cream|Charcoal",
            (12, 179),
            "Keeps cats active and claws healthy, and saves your sofa from scratching.",
            "Climbing, scratching and play in one, for indoor cats of every age.",
        ),
        _line(
            "Chew Toy|Fetch Ball|Rope Toy",
            "Durable|Squeaky|Natural Rubber|Interactive",
            "Small|Medium|Large|3-Pack",
            (5, 29),
            "A tough dog toy for chewing, tugging and fetch that cleans teeth as your dog plays.",
            "Hours of play for energetic dogs, and it floats for games at the lake.",
        ),
    ),
)

CATEGORIES: tuple[str, ...] = tuple(category.name for category in _CATEGORIES)

# Phrases whose words all occur in the name or description of many generated products (each in
# well over 20 of 10,000), so a search benchmark exercises ranking over sizeable result sets.
DEMO_SEARCHES: tuple[str, ...] = (
    "coffee",
    "wireless headphones",
    "waterproof jacket",
    "garden hose",
    "yoga mat",
    "running shoes",
    "stainless steel",
    "organic tea",
    "LED desk lamp",
    "office chair",
    "sensitive skin",
    "camping tent",
)

# (currency, cumulative share of products, price against the USD price in percent): 80% USD,
# 12% EUR, 8% GBP.
_CURRENCY_MIX: tuple[tuple[str, float, int], ...] = (("USD", 0.8, 100), ("EUR", 0.92, 92), ("GBP", 1.0, 79))
_PRICE_ENDINGS: tuple[int, ...] = (99, 99, 99, 49, 95, 0)  # cents: charm prices, sometimes round
_SKU_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: they read as 1 and 0 on a label
_KEEP_CAPITALIZED = frozenset({"French", "Japanese", "Italian", "Dutch", "Chelsea"})
_NAME_ATTEMPTS = 32


def generate_products(count: int, *, seed: int = 7) -> list[CatalogItem]:
    """Return ``count`` products, the same ones for the same seed on every machine and Python.

    Names and SKUs are unique. Only ``Random.random()`` is drawn from: it is the one method whose
    sequence Python guarantees across versions for a given seed (``choice``, ``randint`` and
    ``shuffle`` have changed before).
    """
    if count < 0:
        raise ValueError(f"count must be zero or more, not {count}")
    rng = random.Random(seed)
    used_names: set[str] = set()
    products: list[CatalogItem] = []
    for serial in range(1, count + 1):
        category = _pick(rng, _CATEGORIES)
        line = _pick(rng, category.lines)
        brand, noun, name = _unique_name(rng, category, line, used_names)
        used_names.add(name)
        currency, price_amount = _price(rng, line.price_range)
        suffix = _pick(rng, _SKU_LETTERS) + _pick(rng, _SKU_LETTERS)
        products.append(
            CatalogItem(
                sku=f"{category.sku_prefix}-{serial:06d}-{suffix}",
                name=name,
                description=_description(rng, category, line, brand, noun),
                price_amount=price_amount,
                currency=currency,
                category=category.name,
            )
        )
    return products


def _pick(rng: random.Random, options: Sequence[_T]) -> _T:
    return options[int(rng.random() * len(options))]


def _unique_name(
    rng: random.Random, category: _Category, line: _ProductLine, used_names: set[str]
) -> tuple[str, str, str]:
    for _ in range(_NAME_ATTEMPTS):
        brand, noun = _pick(rng, category.brands), _pick(rng, line.nouns)
        name = f"{brand} {_pick(rng, line.adjectives)} {noun} {_pick(rng, line.variants)}"
        if name not in used_names:
            return brand, noun, name
    # Only reached when a catalog far larger than the benchmark's crowds a product line.
    generation = 2
    while f"{name} Gen {generation}" in used_names:
        generation += 1
    return brand, noun, f"{name} Gen {generation}"


def _price(rng: random.Random, price_range: tuple[int, int]) -> tuple[str, int]:
    low, high = price_range
    dollars = low + int(rng.random() * (high - low + 1))
    ending = _pick(rng, _PRICE_ENDINGS)
    draw = rng.random()
    currency, _, percent = next(entry for entry in _CURRENCY_MIX if draw < entry[1])
    # All three currencies have two minor-unit digits, so "cents" is right for each of them.
    return currency, max(dollars * percent // 100, 1) * 100 + ending


def _description(rng: random.Random, category: _Category, line: _ProductLine, brand: str, noun: str) -> str:
    sentences = [_pick(rng, line.blurbs).format(brand=brand, noun=_in_sentence(noun))]
    closing = list(category.closing_sentences)
    for _ in range(_pick(rng, (0, 1, 1, 2))):
        sentences.append(closing.pop(int(rng.random() * len(closing))))
    return " ".join(sentences)


def _in_sentence(noun: str) -> str:
    """'Pour-Over Coffee Maker' -> 'pour-over coffee maker'; 'USB-C' and 'French' keep their capitals."""
    return " ".join(
        word if word.isupper() or word in _KEEP_CAPITALIZED else word.lower() for word in noun.split()
    )
