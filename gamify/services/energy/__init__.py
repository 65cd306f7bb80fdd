"""Energy: lazy regeneration, atomic spends, actions on the event engine, token refills, gifts, boosts,
notifications and the anti-cheat review. Services write in the caller's transaction and never commit
(the scheduled expiry runs as `gamify.jobs.expire_gifts`).

Public API (other teams):
  status(user, now=None) -> dict                 what the bar, the pages and the API show
  spend(user, amount, ...) / perform_action(...)  spend energy (actions go through events.process_event)
  refill(user, tokens) / apply_boost(user, key) / send_gift(...) / accept_gift(...) / decline_gift(...)
  expire_gifts(now) -> int                        run hourly by gamify.jobs.expire_gifts (idempotent)
  actions on events: gamify/pipeline/energy.py (the spend inside the event's transaction)

By concern: `catalogue` (settings, actions, boosts shop, tokens), `ledger` (the locked state, spending
and crediting, anti-cheat), `status` (what pages and the API show), `operations` (actions, refills,
boosts, tier, skills, rest, adjustments), `gifts`, `audit` (energy that rose with no ledger row).
Everything callers use is imported here.
"""

# The package's interface (and, underscored, what the event pipeline and tests reach into).
from .audit import audit_ledger  # noqa: F401
from .catalogue import (  # noqa: F401
    INFLOW_TYPES,
    SPEND_TYPES,
    CachedConfig,
    EnergyError,
    _load_cached_config,
    action_cost,
    boost_json,
    config,
    delete_action,
    delete_boost,
    find_action,
    find_boost,
    get_action,
    get_settings,
    list_actions,
    list_boosts,
    resolve_difficulty,
    save_action,
    save_boost,
    token_balance,
    token_system,
    update_settings,
)
from .gifts import (  # noqa: F401
    GIFT_BOXES,
    GIFT_STATUSES,
    accept_gift,
    decline_gift,
    expire_gifts,
    gift_limits,
    gift_page,
    gift_status,
    pending_gifts,
    return_unanswered_gifts,
    send_gift,
    sent_gifts,
)
from .ledger import (  # noqa: F401
    _after_write,
    _env,
    _insufficient,
    _Locked,
    _resting_error,
    _review_spending,
    _row_values,
    _state,
    open_reviews,
    resolve_review,
    resolved_reviews,
    spend,
)
from .operations import adjust, apply_boost, grant_daily, perform_action, refill, set_premium, set_resting, set_skills  # noqa: F401
from .status import action_costs, announce_fills, history, status, transaction_json  # noqa: F401
