"""All models, imported here so Alembic and create_all() see every table."""

from .achievements import Achievement, AchievementCompletion, AchievementProgress  # noqa: F401
from .analytics import DailyCount, PlayerActivityDay, RollupDay  # noqa: F401
from .backfill import BackfillRun  # noqa: F401
from .config_version import ConfigVersion  # noqa: F401
from .cursors import JobCursor  # noqa: F401
from .energy import (  # noqa: F401
    EnergyAction,
    EnergyBoost,
    EnergyGift,
    EnergyReview,
    EnergySettings,
    EnergyTransaction,
    Friendship,
    PlayerBoost,
    PlayerEnergy,
)
from .leaderboards import (  # noqa: F401
    Leaderboard,
    LeaderboardRankChange,
    LeaderboardRun,
    LeaderboardScore,
    LeaderboardScoreLog,
)
from .messaging import NotificationDelivery, NotificationTemplate  # noqa: F401
from .metrics import Metric, MetricEvent, MetricTotal  # noqa: F401
from .notifications import DomainEvent, Notification, NotificationPreference  # noqa: F401
from .points import (  # noqa: F401
    PointsAward,
    PointsBalance,
    PointsBoost,
    PointsLevel,
    PointsSystem,
    PointsTrigger,
)
from .push import PushSubscription  # noqa: F401
from .streaks import (  # noqa: F401
    FreezeLedger,
    StreakConfig,
    StreakPause,
    StreakPeriod,
    StreakRequirement,
    StreakRestoration,
    UserStreak,
)
from .users import (  # noqa: F401
    ROLE_ADMIN,
    ROLE_PLAYER,
    THEMES,
    ApiKey,
    AttributeDefinition,
    DeviceToken,
    UsedLoginLink,
    User,
)
from .webhooks import EmailSend, MessagingSettings, WebhookDelivery, WebhookEndpoint  # noqa: F401
