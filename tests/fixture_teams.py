"""Team texts the team tests share."""

# A restricted legendary: Showdown refuses it in gen9ou ("Koraidon is tagged Uber").
KORAIDON = """Koraidon @ Choice Scarf
Ability: Orichalcum Pulse
Tera Type: Fire
EVs: 252 Atk / 4 SpD / 252 Spe
Jolly Nature
- Flare Blitz
- Collision Course
- U-turn
- Outrage
"""
