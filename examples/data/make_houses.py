#!/usr/bin/env python3
"""make_houses.py: writes examples/data/houses.csv, 500 synthetic houses.

    python3 examples/data/make_houses.py > examples/data/houses.csv

The formula and the generator of examples/house_prices.c (a 64-bit LCG, seed
7, the same draws in the same order), with the price in dollars instead of
hundreds of thousands:

    price = 1000 * (2 area + 15 rooms - 1.5 age + 300 exp(-distance / 5) + noise)

area in square metres (40-200), rooms 1-6, age in years (0-80), distance to
the centre in km (0-30), noise uniform in [-10, 10] thousand dollars. Values
are rounded as a listing would give them (area and distance to 0.1, age to a
year, price to 100 dollars). Standard library only; the output is the same
on every machine (integer arithmetic and IEEE doubles).
"""
import math

MASK = (1 << 64) - 1


class Lcg:
    def __init__(self, seed):
        self.state = seed

    def uniform(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & MASK
        return (self.state >> 11) / 9007199254740992.0


def main():
    rng = Lcg(7)
    print('area_m2,rooms,age_years,distance_km,price')
    for _ in range(500):
        area = 40 + 160 * rng.uniform()
        rooms = math.floor(1 + 6 * rng.uniform())
        age = 80 * rng.uniform()
        dist = 30 * rng.uniform()
        price = 2 * area + 15 * rooms - 1.5 * age + 300 * math.exp(-dist / 5) + 20 * (rng.uniform() - 0.5)
        print(f'{area:.1f},{rooms},{age:.0f},{dist:.1f},{round(price * 10) * 100}')


if __name__ == '__main__':
    main()
