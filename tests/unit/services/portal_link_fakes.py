"""In-memory ports of services/portal_links.py: the conditions of adapters/portal_links.py, none of their cost."""

from datetime import timedelta


class LinkStore:
    def __init__(self):
        self.links, self.generations, self.addresses, self.requests = {}, {}, {}, 0

    def put(self, record, keep_until):
        self.requests += 1
        self.links[record.token_hash] = record
        self.addresses.setdefault(record.contact_email.lower(), [])
        if record.customer_id not in self.addresses[record.contact_email.lower()]:
            self.addresses[record.contact_email.lower()].append(record.customer_id)

    def get(self, token_hash):
        self.requests += 1
        return self.links.get(token_hash)

    def generation(self, customer_id):
        self.requests += 1
        return self.generations.get(customer_id, 0)

    def revoke(self, customer_id, actor, now):
        self.generations[customer_id] = self.generations.get(customer_id, 0) + 1
        return self.generations[customer_id]

    def live_links(self, customer_id, generation, now):
        return sum(1 for r in self.links.values()
                   if r.customer_id == customer_id and r.generation == generation and r.expires_at > now)

    def customers_of(self, email):
        return list(self.addresses.get(email.lower(), []))


class RateLimiter:
    """Fixed windows like DynamoRateLimiter."""

    def __init__(self):
        self.counts = {}

    def hit(self, key, limit, window, now):
        seconds = int(window.total_seconds())
        start = int(now.timestamp()) // seconds * seconds
        count = self.counts.get((key, start), 0)
        if count >= limit:
            return max(1, start + seconds - int(now.timestamp()))
        self.counts[(key, start)] = count + 1
        return None


class EventLog:
    def __init__(self):
        self.events = []

    def append(self, event):
        if all(e.discriminator != event.discriminator for e in self.events):
            self.events.append(event)


def render(locale, customer_name, contact_name, url, expires_at, seller):
    from chalicelib.formats.portal_links import LinkEmail

    return LinkEmail(f"link for {customer_name}", f"<a href='{url}'>open</a>",
                     f"{url}\nvalid until {expires_at:%Y-%m-%d}")


WINDOW = timedelta(hours=1)
